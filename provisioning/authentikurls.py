"""Where a tenant's WordPress finds Authentik: the address browsers use, and the one pods call."""

import ipaddress
from urllib.parse import urlsplit

from django.conf import settings

from provisioning.spec import TenantSpec

# The platform document's Authentik host: what plan mode shows when no address is configured.
PLAN_URL = "https://authentik.local"


def api_url() -> str:
    """The address the portal and the tenants' pods call (token, userinfo): may be in-cluster."""
    return settings.PORTAL_AUTHENTIK_URL or PLAN_URL


def public_url() -> str:
    """The address browsers are sent to (sign-in, sign-out)."""
    return settings.PORTAL_AUTHENTIK_PUBLIC_URL or settings.PORTAL_AUTHENTIK_URL or PLAN_URL


def issuer(spec: TenantSpec) -> str:
    """The tenant provider's issuer as browsers see it (Authentik's per-provider issuer)."""
    return f"{public_url()}/application/o/{spec.sso_slug}/"


def id_token_issuer(spec: TenantSpec) -> str:
    """The `iss` of the ID tokens the tenant's pods get: Authentik builds it from the host the
    token request went to, and the pods call the API address."""
    return f"{api_url()}/application/o/{spec.sso_slug}/"


def jwks_url(spec: TenantSpec) -> str:
    """The tenant provider's signing keys (RS256 public keys), as the pods fetch them."""
    return f"{api_url()}/application/o/{spec.sso_slug}/jwks/"


def authorize_url() -> str:
    return f"{public_url()}/application/o/authorize/"


def looks_in_cluster(url: str) -> bool:
    """A host only the cluster's DNS knows: a Service name or a *.svc / *.cluster.local name."""
    host = (urlsplit(url).hostname or "").lower()
    return "." not in host or host.endswith((".svc", ".cluster.local", ".svc.cluster.local"))


def is_internal(url: str) -> bool:
    """An address WordPress's SSRF guard (wp_safe_remote_get) refuses: a cluster name, or a
    loopback or private IP. The OIDC plugin then needs allow_internal_idp to fetch the keys."""
    host = (urlsplit(url).hostname or "").lower()
    if looks_in_cluster(url) or host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_private or address.is_loopback or address.is_link_local
