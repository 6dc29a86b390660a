"""The names of the environment variables the portal reads, from its settings module."""

import re
from functools import cache
from pathlib import Path

SETTINGS = Path(__file__).resolve().parents[2] / "portal" / "settings.py"


@cache
def portal_setting_names() -> frozenset[str]:
    """Every NAME in env("NAME"), env.str("NAME", ...), env.db("NAME") and the like."""
    text = SETTINGS.read_text()
    names = frozenset(re.findall(r'\benv(?:\.[a-z_]+)?\(\s*"([A-Z][A-Z0-9_]*)"', text))
    assert {"DATABASE_URL", "DJANGO_SECRET_KEY", "PORTAL_S3_BUCKET"} <= names, "settings moved?"
    return names
