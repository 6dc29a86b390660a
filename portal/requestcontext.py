"""Who is acting, from where, under which request id: set per request, read by the audit."""

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class RequestContext:
    ip: str | None = None
    request_id: str = ""
    # Who acts when no signed-in user does, e.g. "cli:root" for a management command.
    actor_name: str = ""


_current: ContextVar[RequestContext] = ContextVar("portal_request", default=RequestContext())  # noqa: B039 (frozen)


def current() -> RequestContext:
    return _current.get()


def bind(ctx: RequestContext):
    """Make ctx current; returns the token to pass to reset()."""
    return _current.set(ctx)


def reset(token) -> None:
    _current.reset(token)


def bind_command(command: str):
    """Context for a management command: the operator's login name, a request id of its own."""
    import getpass
    import uuid

    return bind(
        RequestContext(
            request_id=f"cli-{uuid.uuid4().hex[:12]}", actor_name=f"cli:{getpass.getuser()}"
        )
    )
