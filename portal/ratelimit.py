"""Fixed-window rate limits counted in the shared cache, so they hold across processes."""

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from portal.errors import ApplicationError


class RateLimited(ApplicationError):
    """Too many of something: the message says when to try again."""

    def __init__(self, what: str, retry_after: int):
        self.retry_after = max(1, int(retry_after))
        super().__init__(f"{what}; try again in {wait_words(self.retry_after)}.")


def wait_words(seconds: int) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def parse_rate(name: str) -> tuple[int, int]:
    """A count/seconds setting, e.g. 10/3600, as (count, seconds)."""
    value = getattr(settings, name)
    try:
        count, seconds = (int(part) for part in str(value).split("/"))
    except ValueError:
        count = seconds = 0
    if count < 1 or seconds < 1:
        raise ImproperlyConfigured(f"{name} must be count/seconds, e.g. 10/3600 (not {value!r})")
    return count, seconds


def cache_key(scope: str, key: object, *parts: object) -> str:
    # Hashed: user names and IPs may hold characters some cache backends refuse in a key.
    digest = hashlib.sha256(str(key).encode()).hexdigest()[:32]
    return ":".join(["portal", scope, digest, *(str(p) for p in parts)])


def window(seconds: int) -> tuple[int, int]:
    """The current fixed window of that length: its start and the seconds left in it."""
    now = int(time.time())
    start = now - now % seconds
    return start, start + seconds - now


def count(key: str, timeout: int) -> int:
    """Adds one to a counter in the cache and returns it; it expires timeout seconds on."""
    if cache.add(key, 1, timeout=timeout):
        return 1
    try:
        value = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=timeout)
        return 1
    # Redis keeps the expiry through INCR; the database cache's incr stores the value again
    # with the default timeout, which would end a window early.
    cache.touch(key, timeout)
    return value


def hit(scope: str, key: object, *, rate: tuple[int, int], what: str) -> None:
    """Counts one event of scope for key; raises RateLimited past the rate's count in its
    window. Redis counts atomically; the database cache may let a burst of parallel requests
    one or two past the count."""
    limit, seconds = rate
    start, left = window(seconds)
    if count(cache_key(scope, key, start), timeout=left + 60) > limit:
        raise RateLimited(what, retry_after=left)


def limit_actions(user) -> None:
    """One state-changing action of a signed-in user."""
    hit("action", user.pk, rate=parse_rate("PORTAL_RATE_LIMIT_ACTIONS"), what="Too many changes")


def limit_filing(user) -> None:
    """One tenant request filed by the user."""
    rate = parse_rate("PORTAL_RATE_LIMIT_REQUESTS")
    what = f"You filed {rate[0]} requests in {wait_words(rate[1])}"
    hit("filing", user.pk, rate=rate, what=what)


def with_retry_after(response, exc: Exception):
    """The response, with the Retry-After header a client can act on when exc is a limit."""
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response
