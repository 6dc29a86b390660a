"""The README's run command, as a newcomer runs it: up, ready, sign-in works, Ctrl-C stops all."""

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_run_command_serves_the_portal_and_stops_cleanly(tmp_path):
    port = _free_port()
    # The embedded default: nothing configured but where to keep its files.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PORTAL_", "DJANGO_", "CELERY_")) and k != "DATABASE_URL"
    }
    env.update({"PORT": str(port), "PORTAL_VAR_DIR": str(tmp_path / "var")})
    log = (tmp_path / "run.log").open("w+")
    proc = subprocess.Popen(
        ["./scripts/run.sh"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        ready = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                ready = requests.get(f"{base}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        # The announcement follows the first answer by up to one poll of the script.
        announced = time.monotonic() + 10
        output = Path(log.name).read_text()
        while "The portal runs on" not in output and time.monotonic() < announced:
            time.sleep(0.2)
            output = Path(log.name).read_text()
        assert ready is not None and ready.status_code == 200, output[-3000:]
        checks = ready.json()["checks"]
        assert ready.json()["status"] == "ok" and checks["database"] == checks["broker"] == "ok"
        # The worker started beside the web server is seen by its heartbeat soon after.
        seen = time.monotonic() + 60
        while checks["workers"] != "ok" and time.monotonic() < seen:
            time.sleep(0.5)
            checks = requests.get(f"{base}/readyz", timeout=5).json()["checks"]
        assert checks["workers"] == "ok", checks

        # The first administrator's password was printed once, with the real address; it signs in.
        match = re.search(r"user name: (\S+)\s+password:\s+(\S+)", output)
        assert match, output[-3000:]
        assert f"Sign in at {base}/accounts/login/" in output and "<port>" not in output
        assert ".venv/bin/python manage.py changepassword" in output
        assert "No directory at" not in output  # whitenoise finds the collected files
        # No warning a newcomer would wonder about: kombu's at each start, for the folder broker.
        assert "No hostname was supplied" not in output
        # The address is announced once the server answers there, not before.
        assert output.index("Starting development server") < output.index("The portal runs on")
        session = requests.Session()
        page = session.get(f"{base}/accounts/login/", timeout=10)
        assert page.status_code == 200 and "Sign in" in page.text
        token = session.cookies["csrftoken"]
        signed_in = session.post(
            f"{base}/accounts/login/",
            data={"login": match[1], "password": match[2], "csrfmiddlewaretoken": token},
            headers={"Referer": f"{base}/accounts/login/"},
            timeout=10,
        )
        assert signed_in.status_code == 200
        assert signed_in.url.rstrip("/").endswith("/tenants"), signed_in.url
        assert "Plan mode" in signed_in.text  # nothing is connected on a fresh machine

        # The embedded worker builds an approved tenant (SQLite, folder broker, plan mode).
        script = (
            "from django.contrib.auth import get_user_model;"
            "from tenants import services; from tenants.models import Plan;"
            "bob = get_user_model().objects.create_user('bob', 'bob@example.com');"
            "t = services.tenant_request_submit(owner=bob, slug='bobs-blog',"
            " display_name='Blog', plan=Plan.objects.get(name='small'),"
            " wordpress_version='6.8', admin_email='bob@example.com');"
            f"services.tenant_approve(tenant_id=t.pk, actor=get_user_model().objects.get("
            f"username='{match[1]}'));"
            "print(t.pk)"
        )
        made = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "python"), "manage.py", "shell", "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert made.returncode == 0, made.stderr
        detail = f"{base}/tenants/{made.stdout.strip().splitlines()[-1]}/"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            page = session.get(detail, timeout=10).text
            if "Ready" in page:
                break
            time.sleep(1)
        assert "Ready" in page, Path(log.name).read_text()[-3000:]
        assert (tmp_path / "var" / "plan" / "bobs-blog").is_dir()
        # The mails (the console's, in the worker's log) link to where the portal runs: with
        # PORT set they named http://localhost:8000, where nothing answers.
        approved = "Subject: [Tenant portal] Approved: bobs-blog"
        deadline = time.monotonic() + 30
        while approved not in Path(log.name).read_text() and time.monotonic() < deadline:
            time.sleep(0.5)
        mails = Path(log.name).read_text()
        assert approved in mails, mails[-3000:]
        assert detail in mails and "localhost:8000" not in mails
        # The audit trail in the Django admin, on the embedded SQLite (it answered 500 there).
        trail = session.get(f"{base}/admin/tenants/auditevent/", timeout=10)
        assert trail.status_code == 200 and "Tenant approved" in trail.text
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        try:
            proc.wait(timeout=60)
        finally:
            deadline = time.monotonic() + 30
            while _group_alive(proc.pid) and time.monotonic() < deadline:
                time.sleep(0.2)
            left = _group_alive(proc.pid)
            if left:
                os.killpg(proc.pid, signal.SIGKILL)
            log.close()
    assert not left, "processes of the run command were left behind"


def test_run_command_on_a_taken_port_says_how_to_pick_another():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            ["./scripts/run.sh"],
            cwd=ROOT,
            env={**os.environ, "PORT": str(port)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"Port {port} on 127.0.0.1 is in use already" in done.stderr
    assert "PORT=8080 ./scripts/run.sh" in done.stderr
