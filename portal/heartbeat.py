"""Whether a worker is alive: workers stamp the shared cache; pages and /readyz read it."""

import socket
import time

from celery import signals
from django.conf import settings
from django.core.cache import cache

KEY = "portal:worker-heartbeat"


def beat() -> None:
    """Record that a worker on the provisioning queue ran just now (kept well past staleness)."""
    stamp = {"at": time.time(), "worker": socket.gethostname()}
    cache.set(KEY, stamp, timeout=max(settings.PORTAL_WORKER_STALE_AFTER * 10, 3600))


def seconds_since() -> float | None:
    """Seconds since a worker was last seen; None if none was ever (or the cache is down)."""
    try:
        stamp = cache.get(KEY)
    except Exception:
        return None
    return None if not stamp else max(0.0, time.time() - stamp["at"])


def worker_alive() -> bool:
    from portal.celery import app

    if app.conf.task_always_eager:
        return True  # tasks run in the process that sends them: no worker needed
    age = seconds_since()
    return age is not None and age <= settings.PORTAL_WORKER_STALE_AFTER


def worker_words(*, for_admin: bool = False) -> str:
    """ "" while a worker is alive, else a sentence for a page's warning banner."""
    if worker_alive():
        return ""
    age = seconds_since()
    since = "has been seen yet" if age is None else f"was seen for {int(age // 60)} minutes"
    words = (
        f"Building is paused: no provisioning worker {since}, so approved requests and "
        "actions wait until one runs again."
    )
    return words + (" Start the Celery worker and beat." if for_admin else "")


@signals.worker_ready.connect
def _on_worker_ready(**_):
    # A worker just started: seen at once, not only at the beat's first heartbeat.
    beat()
