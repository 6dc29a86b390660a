"""Middleware: each request's id and client IP (logs, audit trail); private pages uncached."""

import ipaddress
import re
import uuid
from dataclasses import replace

from django.conf import settings
from django.utils.cache import patch_cache_control

from portal import requestcontext

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def _ip_or_none(value: str | None) -> str | None:
    # The audit stores it in an inet column: anything else would fail the user's action.
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None


def client_ip(request) -> str | None:
    """The client's address, taking X-Forwarded-For only from the configured proxies."""
    hops = settings.PORTAL_TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if hops and forwarded:
        chain = [part.strip() for part in forwarded.split(",") if part.strip()]
        if len(chain) >= hops and (ip := _ip_or_none(chain[-hops])):
            return ip
    return _ip_or_none(request.META.get("REMOTE_ADDR"))


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        # An id from the ingress links our audit to its logs; anything odd gets a fresh one.
        request.id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = requestcontext.bind(
            requestcontext.RequestContext(ip=client_ip(request), request_id=request.id)
        )
        try:
            response = self.get_response(request)
        finally:
            requestcontext.reset(token)
        response["X-Request-ID"] = request.id
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        # By now the session's user is known: the log lines of the view name them. Bound on
        # top of __call__'s context, so its reset drops this too.
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            requestcontext.bind(replace(requestcontext.current(), user=user.get_username()))


class PrivatePagesMiddleware:
    """What a signed-in user sees shows tenant data: no browser or proxy may keep a copy, so
    nothing is left to read in a shared computer's cache or history after sign-out."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response
