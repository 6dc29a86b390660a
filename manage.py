#!/usr/bin/env python
"""Django's command-line entry point for the tenant portal."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:
        if "--traceback" in sys.argv:
            raise
        # A setting the operator must fix: its sentence, not a traceback through Django's loader.
        sys.exit(f"ImproperlyConfigured: {exc}")
