"""JSON log lines that carry the request context (request id, user, tenant, run) and no secret."""

import logging
import re

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

from portal import requestcontext

# What a credential looks like in free text: masked in the finished line, whatever logged it
# (our code, a library's exception message, a traceback).
_MASKS = [
    # The portal's personal API tokens (api.tokens.PREFIX).
    (re.compile(r"ptk_[A-Za-z0-9_-]+"), "ptk_***"),
    (re.compile(r"(?i)\b(bearer|basic|token)(\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1\2***"),
    # user:password@ in a URL (a database or broker URL in a connection error).
    (re.compile(r"(://[^/\s:@\"']+:)[^@\s/\"']+@"), r"\1***@"),
    # key=value / "key": "value" where the key names a secret.
    (
        re.compile(
            r"(?i)((?:password|passwd|secret|secret_key|secret_access_key|api_key|apikey"
            r"|access_token|client_secret)(?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?)"
            r"[^\s\"'\\,;&}]+"
        ),
        r"\1***",
    ),
]


def mask_secrets(text: str) -> str:
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


class ContextFilter(logging.Filter):
    """Adds the current request's (or task's) id, user, tenant slug and run id to the record."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = requestcontext.current()
        request = getattr(record, "request", None)
        if request is not None and not ctx.request_id:
            # django.request logs an error answer after the middleware has returned, with
            # the request itself in the record: read its id and user from it.
            user = getattr(request, "user", None)
            ctx = requestcontext.RequestContext(
                request_id=getattr(request, "id", ""),
                user=user.get_username() if user is not None and user.is_authenticated else "",
            )
        for field, value in (
            ("request_id", ctx.request_id),
            ("user", ctx.user or ctx.actor_name),
            ("tenant", ctx.tenant),
            ("run_id", ctx.run_id),
        ):
            if not hasattr(record, field):
                setattr(record, field, value or None)
        return True


class JsonLines(JsonFormatter):
    """One JSON object per line: time, level, logger, message, the context, then any extras."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("fmt", ["levelname", "name", "message"])
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        # django.request's record holds the request object: its repr adds nothing.
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request"])
        kwargs.setdefault("json_ensure_ascii", False)
        super().__init__(*args, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        return mask_secrets(super().format(record))
