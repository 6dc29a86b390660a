"""System checks: settings the tenants' sites can't work with stop the portal at start."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register

from provisioning import authentikurls, egress, leaserule, tenanturl
from provisioning.drivers import configured_systems
from provisioning.drivers.ionos import BUCKET_TYPES


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


@register()
def authentik_public_url(app_configs=None, **kwargs) -> list[Error]:
    # Only where tenants' WordPress really runs: plan mode may show the placeholder address.
    if not configured_systems()["Kubernetes"]:
        return []
    if not (settings.PORTAL_AUTHENTIK_PUBLIC_URL or settings.PORTAL_AUTHENTIK_URL):
        return [
            Error(
                "Tenant sites would send browsers to sign in at "
                f"{authentikurls.PLAN_URL}, a placeholder: no Authentik address is configured.",
                hint="Set PORTAL_AUTHENTIK_PUBLIC_URL (and PORTAL_AUTHENTIK_URL for the API).",
                id="provisioning.E002",
            )
        ]
    public = authentikurls.public_url()
    if urlsplit(public).scheme not in ("http", "https") or not urlsplit(public).hostname:
        return [
            Error(
                f"The Authentik address browsers are sent to, {public!r}, is not an http(s) URL.",
                hint="Set PORTAL_AUTHENTIK_PUBLIC_URL to e.g. https://auth.example.com.",
                id="provisioning.E003",
            )
        ]
    if authentikurls.looks_in_cluster(public):
        return [
            Error(
                f"Tenant sites would send browsers to sign in at {public}, an address only the "
                "cluster can resolve.",
                hint="Set PORTAL_AUTHENTIK_PUBLIC_URL to the address browsers reach Authentik at.",
                id="provisioning.E004",
            )
        ]
    return []


@register()
def s3_credentials_mode(app_configs=None, **kwargs) -> list[Error]:
    mode = settings.PORTAL_S3_CREDENTIALS
    if mode not in ("iam", "ionos"):
        return [
            Error(
                f"PORTAL_S3_CREDENTIALS is {mode!r}; it takes iam or ionos.",
                id="provisioning.E005",
            )
        ]
    host = (urlsplit(settings.PORTAL_S3_ENDPOINT_URL).hostname or "").lower()
    if mode == "iam" and host.endswith(".ionoscloud.com"):
        return [
            Error(
                f"PORTAL_S3_CREDENTIALS is iam, but {host} is IONOS Object Storage, which has no "
                "IAM API: the tenants' users and keys could not be made.",
                hint="Set PORTAL_S3_CREDENTIALS=ionos, or leave it unset: it follows the endpoint.",
                id="provisioning.E006",
            )
        ]
    if mode == "ionos" and settings.PORTAL_IONOS_BUCKET_TYPE not in BUCKET_TYPES:
        return [
            Error(
                f"PORTAL_IONOS_BUCKET_TYPE is {settings.PORTAL_IONOS_BUCKET_TYPE!r}; it takes "
                "contract or user.",
                id="provisioning.E007",
            )
        ]
    return []


@register()
def lease_outlives_the_hard_time_limit(app_configs=None, **kwargs) -> list[Error]:
    why = leaserule.problem(settings.PORTAL_TENANT_LOCK_TTL, settings.CELERY_TASK_TIME_LIMIT)
    return [Error(why, hint=leaserule.HINT, id="provisioning.E010")] if why else []


MEMBER_ROLES = ("editor", "author", "contributor", "subscriber")


@register()
def wordpress_member_role(app_configs=None, **kwargs) -> list[Error]:
    # Given to everyone the tenant's owner adds; administrator stays the owner's alone.
    role = settings.PORTAL_WORDPRESS_MEMBER_ROLE
    if role in MEMBER_ROLES:
        return []
    return [
        Error(
            f"PORTAL_WORDPRESS_MEMBER_ROLE is {role!r}; it takes {', '.join(MEMBER_ROLES)}.",
            id="provisioning.E020",
        )
    ]


@register()
def stall_timeout_outlasts_a_takeover(app_configs=None, **kwargs) -> list[Error]:
    # A dead worker's run is taken up again once its lease expired and its message came back
    # (the sweep re-sends a lost one after the grace): ending it as stalled any sooner would fail
    # tenants that a worker restart merely interrupted.
    s = settings
    least = s.PORTAL_TENANT_LOCK_TTL + s.PORTAL_MESSAGE_GRACE + 2 * s.PORTAL_SWEEP_INTERVAL
    if s.PORTAL_RUN_STALL_TIMEOUT > least:
        return []
    return [
        Error(
            f"PORTAL_RUN_STALL_TIMEOUT ({s.PORTAL_RUN_STALL_TIMEOUT} s) must be longer than the "
            f"lease, the message grace and two sweeps together ({least} s).",
            hint="Raise PORTAL_RUN_STALL_TIMEOUT (default 3600).",
            id="provisioning.E011",
        )
    ]


@register()
def request_retries_fit_the_soft_time_limit(app_configs=None, **kwargs) -> list[Error]:
    # A request retried past the soft limit is cut off mid-wait; half of it leaves the step's
    # other requests room.
    budget = settings.PORTAL_REQUEST_RETRY_BUDGET
    limit = settings.CELERY_TASK_SOFT_TIME_LIMIT or settings.CELERY_TASK_TIME_LIMIT
    if not limit or budget <= limit / 2:
        return []
    return [
        Error(
            f"PORTAL_REQUEST_RETRY_BUDGET ({budget:g} s) must be at most half the task's time "
            f"limit ({limit} s).",
            hint="Lower PORTAL_REQUEST_RETRY_BUDGET or raise PORTAL_TASK_SOFT_TIME_LIMIT.",
            id="provisioning.E012",
        )
    ]


@register()
def authentik_access_group(app_configs=None, **kwargs) -> list[Warning]:
    # Without a group, every tenant's application is open to anyone with an Authentik account.
    if not settings.PORTAL_AUTHENTIK_URL or settings.PORTAL_AUTHENTIK_ACCESS_GROUP:
        return []
    return [
        Warning(
            "PORTAL_AUTHENTIK_ACCESS_GROUP is empty: anyone who can sign in to Authentik gets "
            "into every tenant's WordPress.",
            hint="Leave it unset (wp-{slug}-users: the tenant's owner and members only).",
            id="provisioning.W021",
        )
    ]


# What narrows each egress target, said where it is still any address.
EGRESS_CHECK_IDS = {
    "PORTAL_EGRESS_DB_CIDRS": "provisioning.W030",
    "PORTAL_EGRESS_S3_CIDRS": "provisioning.W031",
    "PORTAL_EGRESS_AUTHENTIK_CIDRS": "provisioning.W032",
}
EGRESS_HINTS = {
    "PORTAL_EGRESS_DB_CIDRS": "Set PORTAL_EGRESS_DB_CIDRS to the database's addresses (e.g. "
    "10.7.0.5/32; the Terraform output mariadb_cidr), or PORTAL_WORDPRESS_DB_HOST to its IP.",
    "PORTAL_EGRESS_S3_CIDRS": "Set PORTAL_EGRESS_S3_CIDRS to the S3 endpoint's addresses (IONOS: "
    "the Terraform output portal_config has them, deploy/README.md).",
    "PORTAL_EGRESS_AUTHENTIK_CIDRS": "Set PORTAL_EGRESS_AUTHENTIK_VIA_INGRESS=true when this "
    "cluster's ingress controller serves Authentik, else PORTAL_EGRESS_AUTHENTIK_CIDRS to its "
    "addresses.",
}


@register(deploy=True)
def tenant_egress_narrowed(app_configs=None, **kwargs) -> list[Warning]:
    # Only where tenants' pods really run: plan mode's policies are never applied. A warning,
    # not an error: the tenants work either way, they can merely reach more than they need.
    if not configured_systems()["Kubernetes"]:
        return []
    found = []
    for target in egress.targets():
        if not target.open:
            continue
        if getattr(settings, target.setting):
            why = f"{target.setting} allows any address"
        elif not target.address:
            why = f"{target.setting} is unset and no address of it is configured"
        else:
            why = (
                f"{target.setting} is unset and {target.address} is neither an IP address nor "
                "an in-cluster Service name"
            )
        found.append(
            Warning(
                f"Tenants may connect to any address on port {target.port} (meant for "
                f"{target.what}): {why}.",
                hint=EGRESS_HINTS[target.setting],
                id=EGRESS_CHECK_IDS[target.setting],
            )
        )
    return found
