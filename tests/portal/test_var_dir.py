"""A PORTAL_VAR_DIR that can't be created stops manage.py with one sentence naming it."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_an_uncreatable_var_dir_is_one_sentence_not_a_traceback(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    var_dir = blocker / "var"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PORTAL_"))},
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "PORTAL_VAR_DIR": str(var_dir),
    }

    ran = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert ran.returncode != 0
    assert "Traceback" not in ran.stderr
    assert ran.stderr.strip() == (
        f"ImproperlyConfigured: PORTAL_VAR_DIR '{var_dir}' cannot be created "
        "(Not a directory): point it at a writable folder."
    )
