"""Sign-in lock-out with doubling back-off, per user name and per IP, in the shared cache."""

import time
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache

from portal.middleware import client_ip
from portal.ratelimit import RateLimited, cache_key, count, window

# How long the number of lock-outs is remembered, which doubles the next one; a day.
_LEVEL_SECONDS = 86400


@dataclass
class Failure:
    """What one failed sign-in did: the audit trail gets a row only for these."""

    first_in_window: bool = False
    # (who was locked: "user name" or "IP", for how many seconds)
    locked: list[tuple[str, int]] = field(default_factory=list)


def _subjects(request, username: str) -> list[tuple[str, str, int]]:
    subjects = [("user name", username.strip().lower(), settings.PORTAL_LOGIN_FAILURES_PER_USER)]
    ip = client_ip(request) if request is not None else None
    if ip:
        subjects.append(("IP", ip, settings.PORTAL_LOGIN_FAILURES_PER_IP))
    return subjects


def check(request, username: str) -> None:
    """Raises RateLimited while the user name or the client's IP is locked out."""
    now = time.time()
    waits = [
        until - now
        for kind, key, _ in _subjects(request, username)
        if (until := cache.get(cache_key("login-lock", f"{kind}:{key}"))) and until > now
    ]
    if waits:
        raise RateLimited("Too many failed sign-ins", retry_after=int(max(waits)) + 1)


def failed(request, username: str) -> Failure:
    """Counts a failed sign-in; the failure that reaches a limit locks its subject out for
    PORTAL_LOGIN_LOCKOUT_SECONDS, doubled for each lock-out of the same subject in a day."""
    start, left = window(settings.PORTAL_LOGIN_FAILURE_WINDOW)
    outcome = Failure()
    for kind, key, limit in _subjects(request, username):
        subject = f"{kind}:{key}"
        failures_key = cache_key("login-failures", subject, start)
        failures = count(failures_key, timeout=left)
        if kind == "user name" and failures == 1:
            outcome.first_in_window = True
        if failures >= limit:
            level = count(cache_key("login-level", subject), timeout=_LEVEL_SECONDS)
            seconds = min(
                settings.PORTAL_LOGIN_LOCKOUT_SECONDS * 2 ** (level - 1),
                settings.PORTAL_LOGIN_LOCKOUT_MAX_SECONDS,
            )
            cache.set(cache_key("login-lock", subject), time.time() + seconds, timeout=seconds)
            cache.delete(failures_key)
            outcome.locked.append((kind, seconds))
    return outcome


def succeeded(username: str) -> None:
    """The right password: the user name's failures and back-off start over (the IP's don't,
    or one known account would let an address guess at all the others)."""
    subject = f"user name:{username.strip().lower()}"
    start, _ = window(settings.PORTAL_LOGIN_FAILURE_WINDOW)
    keys = [cache_key("login-failures", subject, start), cache_key("login-level", subject)]
    cache.delete_many(keys)
