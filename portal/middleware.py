"""Middleware giving each request an id and a client IP for logs and the audit trail."""

import ipaddress
import re
import uuid

from django.conf import settings

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
