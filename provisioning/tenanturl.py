"""A tenant site's URL: the one source for its site URL, OIDC redirect, page link and mails."""

from typing import Protocol

from django.conf import settings


class _HasHost(Protocol):
    host: str


def tls_served() -> bool:
    """Whether browsers reach tenant sites over HTTPS: the ingress holds a certificate from
    cert-manager, or TLS ends before the ingress, which passes X-Forwarded-Proto on."""
    return bool(settings.PORTAL_CERT_ISSUER or settings.PORTAL_TENANT_TLS_UPSTREAM)


def scheme() -> str:
    return "https" if tls_served() else "http"


def tenant_url(tenant: _HasHost, path: str = "") -> str:
    """`<scheme>://<host><path>`; without a path, the form WordPress keeps as its site URL."""
    return host_url(tenant.host, path)


def host_url(host: str, path: str = "") -> str:
    """The same for any host the site is served under (a proven custom host)."""
    return f"{scheme()}://{host}{path}"
