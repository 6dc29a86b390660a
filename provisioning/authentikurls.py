"""Where a tenant's WordPress finds Authentik: the address browsers use, and the one pods call."""

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


def authorize_url() -> str:
    return f"{public_url()}/application/o/authorize/"


def looks_in_cluster(url: str) -> bool:
    """A host only the cluster's DNS knows: a Service name or a *.svc / *.cluster.local name."""
    host = (urlsplit(url).hostname or "").lower()
    return "." not in host or host.endswith((".svc", ".cluster.local", ".svc.cluster.local"))
