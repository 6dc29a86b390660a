"""What the tenants' WordPress pods are built from, as one hash runs record and rollouts compare."""

import hashlib
from pathlib import Path

from django.conf import settings


def fingerprint() -> str:
    """The tenant image setting and the plugin pins (PORTAL_PLUGINS_LOCK, copied into the
    portal's image): a new plugin version under an unchanged image name changes it too."""
    digest = hashlib.sha256(settings.PORTAL_WORDPRESS_IMAGE.encode())
    digest.update(b"\0")
    lock = Path(settings.PORTAL_PLUGINS_LOCK)
    # Without the file (a portal installed without deploy/) the image name alone still says
    # when the pods must change; a run must never fail for want of it.
    digest.update(lock.read_bytes() if lock.is_file() else b"")
    return digest.hexdigest()
