"""Who is acting, from where, under which request id: set per request, read by the audit."""

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    request_id: str = ""


_current: ContextVar[RequestContext] = ContextVar("portal_request", default=RequestContext())  # noqa: B039 (frozen)


def current() -> RequestContext:
    return _current.get()


def bind(ctx: RequestContext):
    """Make ctx current; returns the token to pass to reset()."""
    return _current.set(ctx)


def reset(token) -> None:
    _current.reset(token)
