"""System checks: settings the tenants' sites can't work with stop the portal at start."""

from django.conf import settings
from django.core.checks import Error, register

from provisioning import tenanturl


@register()
def tenant_url_scheme(app_configs=None, **kwargs) -> list[Error]:
    # WordPress's site URL and the redirect URI registered in Authentik both come from
    # tenanturl; a scheme set apart from how TLS is served would make them disagree again.
    wanted = settings.PORTAL_TENANT_URL_SCHEME
    if not wanted or wanted == tenanturl.scheme():
        return []
    how = (
        "PORTAL_CERT_ISSUER or PORTAL_TENANT_TLS_UPSTREAM is set"
        if tenanturl.tls_served()
        else "neither PORTAL_CERT_ISSUER nor PORTAL_TENANT_TLS_UPSTREAM is set"
    )
    return [
        Error(
            f"PORTAL_TENANT_URL_SCHEME is {wanted!r}, but tenant sites are served over "
            f"{tenanturl.scheme()} ({how}).",
            hint="Unset PORTAL_TENANT_URL_SCHEME: the scheme follows from those two settings.",
            id="provisioning.E001",
        )
    ]
