"""The portal's commands with their database down: a sentence and exit status 1, no traceback."""

import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def closed_port():
    """A loopback port bound but not listening: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.mark.parametrize(
    "command",
    [
        ["audit_verify"],
        ["tenant_plan", "corner-shop"],
        ["tenant_reconcile", "--all"],
        ["tenant_deprovision", "corner-shop", "--yes"],
        ["portal_first_admin"],
    ],
)
def test_a_command_whose_database_is_down_says_which_and_why(closed_port, command):
    done = subprocess.run(
        [sys.executable, "manage.py", *command, "--settings=tests.settings"],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DATABASE_URL": f"postgres://portal:pw-not-shown@127.0.0.1:{closed_port}/portal",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith(
        f"CommandError: The portal's database (PostgreSQL portal at 127.0.0.1:{closed_port}) "
        "failed: connection failed: "
    ), done.stderr
    assert "Connection refused. Check DATABASE_URL" in done.stderr
    assert "pw-not-shown" not in done.stderr + done.stdout
