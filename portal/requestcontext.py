"""Who is acting, from where, under which request id: set per request, read by the audit."""

import getpass
import uuid
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    request_id: str = ""
    # Who acts when no signed-in user does, e.g. "cli:root" for a management command.
    actor_name: str = ""
    # The credential a signed-in user acts through when it is not a browser session, e.g.
    # 'API token “ci”'; the audit names it beside the user.
    via: str = ""
    # For the log lines (portal.logs): who is signed in, which tenant and run are worked on.
    user: str = ""
    tenant: str = ""
    run_id: int | None = None


_current: ContextVar[RequestContext] = ContextVar("portal_request", default=RequestContext())  # noqa: B039 (frozen)


def current() -> RequestContext:
    return _current.get()


def bind(ctx: RequestContext):
    """Make ctx current; returns the token to pass to reset()."""
    return _current.set(ctx)


def reset(token) -> None:
    _current.reset(token)


@contextmanager
def scoped(**changes):
    """The current context with some fields changed, for the duration of the block."""
    token = bind(replace(current(), **changes))
    try:
        yield
    finally:
        reset(token)


@contextmanager
def operator():
    """Act as the operator at the command line: their login name, a request id of its own."""
    token = bind(
        RequestContext(
            request_id=f"cli-{uuid.uuid4().hex[:12]}", actor_name=f"cli:{getpass.getuser()}"
        )
    )
    try:
        yield
    finally:
        reset(token)
