"""The embedded folder broker keeps all its files under the var folder, wherever it starts."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_the_exchange_tables_go_under_var(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_VAR_DIR": str(tmp_path / "var"),
        "CELERY_BROKER_URL": "filesystem://",
        "PYTHONPATH": str(ROOT),
    }
    # Sending a task declares its queue, which binds the queue to its exchange, as a worker does.
    script = "from portal.celery import app; app.send_task('portal.nothing')"
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, check=True, timeout=60)

    assert not (tmp_path / "control").exists()
    tables = sorted(p.name for p in (tmp_path / "var" / "broker" / "control").iterdir())
    assert tables == ["portal.exchange"]
