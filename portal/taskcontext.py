"""The request id follows a request into the Celery tasks it queues (in a message header)."""

import uuid

from celery import signals

from portal import requestcontext

HEADER = "portal_request_id"
ACTOR_HEADER = "portal_actor"


@signals.before_task_publish.connect
def _stamp(headers=None, **_):
    # Runs in the sender: the web request, a command, or a task queueing the next one.
    ctx = requestcontext.current()
    if headers is not None and ctx.request_id:
        headers.setdefault(HEADER, ctx.request_id)
        headers.setdefault(ACTOR_HEADER, ctx.user or ctx.actor_name)


_tokens: dict[str, object] = {}


@signals.task_prerun.connect
def _bind(task_id=None, task=None, **_):
    request = task.request
    if request.is_eager:
        return  # runs inside the sender's own context already
    request_id = getattr(request, HEADER, None) or f"task-{(task_id or uuid.uuid4().hex)[:24]}"
    _tokens[task_id] = requestcontext.bind(
        requestcontext.RequestContext(
            request_id=str(request_id)[:64], user=str(getattr(request, ACTOR_HEADER, "") or "")
        )
    )


@signals.task_postrun.connect
def _unbind(task_id=None, **_):
    token = _tokens.pop(task_id, None)
    if token is not None:
        requestcontext.reset(token)
