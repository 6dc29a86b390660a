"""Real Celery worker processes on the Redis broker, pointed at the test database."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def session_queues() -> str:
    """This test session's own queues (tests/settings.py), as a worker's -Q takes them."""
    return f"{settings.CELERY_TASK_DEFAULT_QUEUE},{settings.PORTAL_PROVISIONING_QUEUE}"


class Worker:
    def __init__(
        self,
        env: dict[str, str],
        log_path: Path,
        name: str,
        beat: bool = False,
        concurrency: int = 1,
        queue: str = "",
    ):
        self.log_path = log_path
        self.name = name
        self._log = log_path.open("ab")
        # beat: the scheduler instead, which sends the periodic sweep (reconcile_all).
        beat_command = [
            *(sys.executable, "-m", "celery", "-A", "portal", "beat", "--loglevel", "info"),
            *("--schedule", str(log_path.with_suffix(".schedule"))),
        ]
        self.proc = subprocess.Popen(
            beat_command
            if beat
            else [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--loglevel",
                "info",
                "--concurrency",
                str(concurrency),
                "--hostname",
                f"{name}@%h",
                "-Q",
                queue or session_queues(),
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a kill takes the pool too
        )

    def kill(self) -> None:
        """SIGKILL the worker and its pool processes: no chance to ack or clean up."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def worker_env(extra: dict[str, str]) -> dict[str, str]:
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": (
                f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
            ),
            "PORTAL_PROVISIONING_QUEUE": settings.PORTAL_PROVISIONING_QUEUE,
            "PORTAL_TEST_DEFAULT_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra)
    return env


def wait_until(predicate, timeout: float, what: str, on_timeout=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{on_timeout()}")
