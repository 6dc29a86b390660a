"""The portal's image holds every package the project installs (a missing one breaks start-up)."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_image_copies_every_python_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    dockerfile = (ROOT / "deploy" / "portal" / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\w+) \./\1$", dockerfile, re.M))
    assert packages <= copied, f"COPY these into the image: {sorted(packages - copied)}"


def test_the_image_has_the_database_tools_the_backups_run():
    # provisioning.backup runs mariadb-dump and mariadb; Debian's mariadb-client holds both.
    dockerfile = (ROOT / "deploy" / "portal" / "Dockerfile").read_text()
    assert re.search(r"apt-get install [^\n]*mariadb-client", dockerfile)
