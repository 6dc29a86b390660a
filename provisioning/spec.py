"""The desired state of one tenant, built from its row and plan: all a step needs to know."""

import json
from dataclasses import dataclass

from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.db.models import F, OuterRef, TextField, Value
from django.db.models.functions import Cast

from portal.auth.claims import preferred_username


def db_name_for(slug: str) -> str:
    """The tenant's MariaDB database (and user) name."""
    return "wp_" + slug.replace("-", "_")


@dataclass(frozen=True)
class PlanSpec:
    name: str
    cpu_request_millicores: int
    cpu_limit_millicores: int
    memory_request_mib: int
    memory_limit_mib: int
    storage_gib: int
    replicas: int
    max_pods: int
    max_db_connections: int


@dataclass(frozen=True)
class TenantSpec:
    tenant_id: int
    slug: str
    display_name: str
    admin_email: str
    host: str
    wordpress_version: str
    plan: PlanSpec
    present: bool = True
    # The platform bucket fixed for the tenant when it was approved; empty: today's setting.
    bucket: str = ""
    # Who may sign in to the site through Authentik (their Authentik user names): the owner,
    # and the members the owner added on the tenant page.
    owner_username: str = ""
    members: tuple[str, ...] = ()
    # Scaled to zero, the host answered by the platform's maintenance page.
    suspended: bool = False
    # The AI content pipeline is switched on (the pipeline step and the install Job follow it).
    pipeline: bool = False
    # A clone of another tenant (a staging site): no indexing, no mail, no cron, sign-in only.
    staging: bool = False
    # Custom host names proven by their DNS TXT record, served beside `host` (the site URL).
    extra_hosts: tuple[str, ...] = ()

    @property
    def hosts(self) -> tuple[str, ...]:
        return (self.host, *self.extra_hosts)

    @property
    def namespace(self) -> str:
        return settings.PORTAL_NAMESPACE_PATTERN.format(slug=self.slug)

    @property
    def db_name(self) -> str:
        return db_name_for(self.slug)

    @property
    def db_user(self) -> str:
        return self.db_name

    @property
    def s3_bucket(self) -> str:
        return self.bucket or settings.PORTAL_S3_BUCKET

    @property
    def s3_prefix(self) -> str:
        return f"tenants/{self.slug}/"

    @property
    def sso_slug(self) -> str:
        return f"wp-{self.slug}"

    @property
    def pipeline_slug(self) -> str:
        return f"pipeline-{self.slug}"

    @property
    def labels(self) -> dict[str, str]:
        return {
            "app.kubernetes.io/managed-by": "tenant-portal",
            "portal.wp.ionos/tenant": self.slug,
            "portal.wp.ionos/plan": self.plan.name,
        }


def _people_and_hosts(tenant) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The owner's Authentik user name, the members and the proven extra hosts: one query
    (a union) where a pass of the engine made three (issue 14)."""

    def rows(queryset, value):
        return (
            queryset.order_by()
            .annotate(kind=Value(queryset.model._meta.model_name), value=value)
            .values_list("kind", "value")
        )

    members = rows(tenant.members.all(), F("username"))
    hosts = rows(tenant.hosts.filter(proven_at__isnull=False).exclude(name=tenant.host), F("name"))
    accounts = rows(
        SocialAccount.objects.filter(user_id=tenant.owner_id), Cast("extra_data", TextField())
    )
    found: dict[str, list[str]] = {"tenantmember": [], "tenanthost": [], "socialaccount": []}
    # Ordered by the database (its collation), as each list was before.
    for kind, value in members.union(hosts, accounts, all=True).order_by("kind", "value"):
        found[kind].append(value)
    return _named(tenant, found["socialaccount"], found["tenantmember"], found["tenanthost"])


def _named(tenant, accounts, members, hosts) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    names = (preferred_username(json.loads(data)) for data in accounts)
    owner = next((name for name in names if name), tenant.owner.get_username())
    return owner, tuple(members), tuple(hosts)


def people_read(tenant: str) -> dict:
    """What _people_and_hosts() reads, as annotations (PostgreSQL arrays) of a query over rows
    that reach the tenant by `tenant`: the engine reads them with its run (issue 14)."""
    from django.contrib.postgres.expressions import ArraySubquery

    from tenants.models import TenantHost, TenantMember

    hosts = TenantHost.objects.filter(tenant_id=OuterRef(f"{tenant}_id"), proven_at__isnull=False)
    return {
        "spec_accounts": ArraySubquery(
            SocialAccount.objects.filter(user_id=OuterRef(f"{tenant}__owner_id"))
            .order_by(Cast("extra_data", TextField()))
            .values_list(Cast("extra_data", TextField()))
        ),
        "spec_members": ArraySubquery(
            TenantMember.objects.filter(tenant_id=OuterRef(f"{tenant}_id"))
            .order_by("username")
            .values_list("username")
        ),
        "spec_hosts": ArraySubquery(
            hosts.exclude(name=OuterRef(f"{tenant}__host")).order_by("name").values_list("name")
        ),
    }


def spec_for(tenant, read=None) -> TenantSpec:
    """The tenant's spec; `read`, an object annotated by people_read(), spares its query."""
    plan = tenant.plan
    if read is not None and hasattr(read, "spec_members"):
        owner_username, members, extra_hosts = _named(
            tenant, read.spec_accounts, read.spec_members, read.spec_hosts
        )
    else:
        owner_username, members, extra_hosts = _people_and_hosts(tenant)
    return TenantSpec(
        tenant_id=tenant.pk,
        slug=tenant.slug,
        display_name=tenant.display_name,
        admin_email=tenant.admin_email,
        host=tenant.host,
        wordpress_version=tenant.wordpress_version,
        present=tenant.desired_present,
        bucket=tenant.s3_bucket,
        owner_username=owner_username,
        members=members,
        suspended=tenant.suspended_at is not None,
        pipeline=tenant.content_pipeline,
        extra_hosts=extra_hosts,
        staging=tenant.clone_of_id is not None,
        plan=PlanSpec(
            name=plan.name,
            cpu_request_millicores=plan.cpu_request_millicores,
            cpu_limit_millicores=plan.cpu_limit_millicores,
            memory_request_mib=plan.memory_request_mib,
            memory_limit_mib=plan.memory_limit_mib,
            storage_gib=max(plan.storage_gib, tenant.volume_gib),
            replicas=plan.replicas,
            max_pods=plan.max_pods,
            max_db_connections=plan.max_db_connections,
        ),
    )
