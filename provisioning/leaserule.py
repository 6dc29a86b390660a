"""The lease must outlive the task's hard time limit: the system check's rule, and a worker's."""

import logging

from celery import signals
from django.conf import settings

log = logging.getLogger(__name__)


def problem(ttl: int, hard: float | None) -> str:
    """Why a lease of `ttl` seconds is unsafe under a hard limit of `hard`; "" when it is safe."""
    # A worker whose step hangs is cut off by the hard time limit; only a lease longer than
    # that guarantees nobody takes a tenant over while its step may still be writing.
    if hard and ttl > hard:
        return ""
    return (
        f"PORTAL_TENANT_LOCK_TTL ({ttl} s) must be longer than the task's hard time limit "
        f"(PORTAL_TASK_TIME_LIMIT, {hard or 'none'} s)."
    )


HINT = "Raise PORTAL_TENANT_LOCK_TTL, or lower PORTAL_TASK_TIME_LIMIT (never unset it)."


@signals.celeryd_init.connect
def _refuse_a_lease_the_hard_limit_outlasts(conf=None, options=None, **_):
    # Django's system checks never run in a worker, the process the rule protects: it
    # refuses to start instead. The worker's --time-limit, if given, is the limit it enforces.
    hard = (options or {}).get("time_limit") or (conf or {}).get("task_time_limit")
    why = problem(settings.PORTAL_TENANT_LOCK_TTL, hard)
    if why:
        log.critical("the worker refuses to start: %s %s", why, HINT)
        # SystemExit, not an error: Celery logs a signal handler's exception and goes on.
        raise SystemExit(f"The worker refuses to start: {why} {HINT}")
