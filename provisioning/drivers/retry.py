"""One outside request, retried through a passing outage: backoff within a time budget,
Retry-After honoured, and only when sending it again can't do a thing twice."""

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from django.conf import settings

from provisioning.errors import Unavailable

T = TypeVar("T")
# Methods whose repetition leaves the same result (RFC 9110 §9.2.2); POST creates again.
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Set by the engine while a step runs: told "waiting for <system> …" before each pause.
_on_wait: ContextVar[Callable[[str], None] | None] = ContextVar("on_wait", default=None)


@contextmanager
def waits_reported_to(report: Callable[[str], None]) -> Iterator[None]:
    token = _on_wait.set(report)
    try:
        yield
    finally:
        _on_wait.reset(token)


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def unavailable(text: str, *, system: str, status: int, header: str | None) -> Unavailable:
    """A busy or failing server's answer: a 429 was refused unread, and so was a 503 that says
    when to come back (an overloaded server's way); any other 5xx may have been acted on."""
    wait = retry_after(header)
    unsent = status == 429 or (status == 503 and wait is not None)
    return Unavailable(text, system=system, retry_after=wait, unsent=unsent)


def _backoff(attempt: int) -> float:
    base, cap = settings.PORTAL_REQUEST_RETRY_BASE_DELAY, settings.PORTAL_REQUEST_RETRY_MAX_DELAY
    return min(cap, base * 2 ** (attempt - 1)) * (0.5 + random.random() / 2)  # noqa: S311


def retrying(call: Callable[[], T], *, idempotent: bool) -> T:
    """`call()`, sent again while it raises Unavailable and the budget
    (PORTAL_REQUEST_RETRY_BUDGET) allows; a request that isn't idempotent only when it surely
    wasn't acted on. What is left over goes to the engine, which retries the step later."""
    deadline = time.monotonic() + settings.PORTAL_REQUEST_RETRY_BUDGET
    attempt = 0
    while True:
        try:
            return call()
        except Unavailable as exc:
            attempt += 1
            if not (idempotent or exc.unsent):
                raise
            delay = exc.retry_after if exc.retry_after is not None else _backoff(attempt)
            if time.monotonic() + delay > deadline:
                raise
            report = _on_wait.get()
            if report is not None:
                report(f"waiting for {exc.system} (trying again in {delay:.0f} s): {exc}")
            time.sleep(delay)
