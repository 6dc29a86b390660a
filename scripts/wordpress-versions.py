#!/usr/bin/env python3
"""Print the offered WordPress versions as JSON, for the images workflow's build matrix."""

import json
import runpy
from pathlib import Path

# run_path, not import: importing the portal package loads Celery and Django, which the images
# workflow does not install.
source = Path(__file__).resolve().parent.parent / "portal" / "wordpress_versions.py"
module = runpy.run_path(str(source))
print(json.dumps(module["OFFERED"]))
