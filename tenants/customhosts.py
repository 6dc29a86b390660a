"""A tenant's custom host names: added, proven by their DNS TXT record, then served; audited."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from portal.errors import ApplicationError
from tenants import hostproof, sitechange, validation
from tenants.audit import audit_record
from tenants.models import AuditEvent, Tenant, TenantHost

Action = AuditEvent.Action


def is_custom(tenant: Tenant) -> bool:
    """The request asked for a host of its own rather than the platform's default one."""
    return tenant.host != validation.default_host(tenant.slug)


def hosts_of(tenant: Tenant) -> list[TenantHost]:
    """The tenant's custom hosts for its page, its own custom host first (unsaved until its
    first check, so a request made before proofs existed shows one as well)."""
    rows = list(tenant.hosts.all())
    if is_custom(tenant) and not any(row.name == tenant.host for row in rows):
        rows.append(TenantHost(tenant=tenant, name=tenant.host))
    return sorted(rows, key=lambda row: (row.name != tenant.host, row.name))


def primary_unproven(tenant: Tenant) -> bool:
    """A request's own custom host waits for its proof before anyone may approve it."""
    if not is_custom(tenant):
        return False
    return not tenant.hosts.filter(name=tenant.host, proven_at__isnull=False).exists()


def unproven_among(tenants) -> set[int]:
    """Of these requests, the ids of those whose own custom host waits for its proof; one
    query for a page of them."""
    custom = [tenant for tenant in tenants if is_custom(tenant)]
    proven = set(
        TenantHost.objects.filter(tenant__in=custom, proven_at__isnull=False).values_list(
            "tenant_id", "name"
        )
    )
    return {tenant.pk for tenant in custom if (tenant.pk, tenant.host) not in proven}


def served_elsewhere(name: str, *, tenant_id: int | None) -> bool:
    """Another live tenant's host, or a custom host another live tenant has proven."""
    live = Tenant.LIVE_STATES
    own = Tenant.objects.filter(state__in=live, host__iexact=name).exclude(pk=tenant_id)
    proven = TenantHost.objects.filter(
        tenant__state__in=live, name__iexact=name, proven_at__isnull=False
    ).exclude(tenant_id=tenant_id)
    return own.exists() or proven.exists()


def _check_may_manage(tenant: Tenant, actor) -> None:
    sitechange.check_may_change(tenant, actor, "the site's host names")


def _lookup_name(name: str) -> str:
    # PostgreSQL refuses a NUL in a query (a 500); no host has one, so it matches nothing.
    return validation.normalize_host(name).replace("\x00", "")


def _platform_shaped(name: str) -> bool:
    # A name of the platform's default form is some tenant's default host, now or later.
    before, _, after = settings.PORTAL_TENANT_HOST_PATTERN.partition("{slug}")
    return name.startswith(before) and name.endswith(after)


def host_add(*, tenant: Tenant, actor, name: str) -> TenantHost:
    """Add a host name to prove; it is served once its TXT record is found (host_check)."""
    _check_may_manage(tenant, actor)
    name = validation.normalize_host(name)
    try:
        validation.validate_host(name)
    except ValidationError as exc:
        raise ValidationError({"name": exc.messages}) from None
    if name == tenant.host:
        raise ValidationError({"name": [f"{name} is the site's own host already."]})
    if _platform_shaped(name):
        raise ValidationError(
            {
                "name": [
                    f"{name} has the form of the platform's own host names; use a domain of yours."
                ]
            }
        )
    extra = tenant.hosts.exclude(name=tenant.host).count()
    if extra >= settings.PORTAL_MAX_CUSTOM_HOSTS:
        most = settings.PORTAL_MAX_CUSTOM_HOSTS
        raise ValidationError({"name": [f"A site has at most {most} custom host names."]})
    if served_elsewhere(name, tenant_id=tenant.pk):
        raise ValidationError({"name": [f"{name} is already in use by another tenant."]})
    try:
        with transaction.atomic():
            row = TenantHost.objects.create(tenant=tenant, name=name, added_by=actor)
            audit_record(
                action=Action.TENANT_HOST_ADDED,
                actor=actor,
                obj=tenant,
                after={"host": name},
                message=f"{name} added to {tenant.slug}, waiting for its DNS TXT proof",
            )
    except IntegrityError:
        raise ValidationError({"name": [f"The site has {name} already."]}) from None
    return row


def host_check(*, tenant: Tenant, actor, name: str) -> tuple[TenantHost, hostproof.Finding]:
    """Look up the host's TXT record; found with the tenant's value, the host is proven and a
    run adds it to the site's ingress and its sign-in redirect URIs."""
    _check_may_manage(tenant, actor)
    name = _lookup_name(name)
    row = tenant.hosts.filter(name=name).first()
    if row is None and name == tenant.host and is_custom(tenant):
        row, _ = TenantHost.objects.get_or_create(
            tenant=tenant, name=name, defaults={"added_by": tenant.owner}
        )
    if row is None:
        raise ApplicationError("That host is no longer on the site; reload the page.")
    if row.is_proven:
        raise ApplicationError(f"{name} is proven already.")
    if served_elsewhere(name, tenant_id=tenant.pk):
        raise ApplicationError(f"{name} is already in use by another tenant.")
    return row, _look_up(tenant, row, actor)


def _look_up(tenant: Tenant, row: TenantHost, actor, *, audit_failure: bool = True):
    # The look-up is outside any transaction: it waits on the network.
    finding = hostproof.check(tenant.pk, row.name)
    now = timezone.now()
    with transaction.atomic():
        if finding.proven and served_elsewhere(row.name, tenant_id=tenant.pk):
            # Another tenant proved it while we looked: the first proof holds the host.
            words = f"{row.name} was proven by another tenant a moment ago; it is theirs."
            finding = hostproof.Finding(False, words)
        changes = {"checked_at": now, "check_result": finding.words[:500]}
        if finding.proven:
            changes["proven_at"] = now
        TenantHost.objects.filter(pk=row.pk).update(**changes)
        row.refresh_from_db()
        if finding.proven or audit_failure:
            audit_record(
                action=Action.TENANT_HOST_PROVEN
                if finding.proven
                else Action.TENANT_HOST_CHECK_FAILED,
                actor=actor,
                obj=tenant,
                after={"host": row.name, "proven": finding.proven},
                message=finding.words,
            )
        if finding.proven and row.name != tenant.host:
            sitechange.apply_change(tenant, actor, "custom host")
    return finding


def hosts_to_recheck(now=None):
    """Hosts still waiting for their proof, added within PORTAL_HOST_RECHECK_DAYS and not
    looked at for PORTAL_HOST_RECHECK_INTERVAL: the beat looks for their records by itself."""
    now = now or timezone.now()
    return (
        TenantHost.objects.filter(
            proven_at__isnull=True,
            added_at__gte=now - timedelta(days=settings.PORTAL_HOST_RECHECK_DAYS),
            tenant__state__in=Tenant.LIVE_STATES,
            tenant__desired_present=True,
        )
        .filter(
            Q(checked_at__isnull=True)
            | Q(checked_at__lt=now - timedelta(seconds=settings.PORTAL_HOST_RECHECK_INTERVAL))
        )
        .select_related("tenant")
        .order_by("checked_at", "pk")[:100]
    )


def hosts_recheck() -> int:
    """Beat: look again for waiting hosts' records; returns how many were proven. Only a proof
    is audited (a failed look-up every quarter of an hour would bury the trail); the page shows
    the last one's words."""
    proven = 0
    for row in hosts_to_recheck():
        if served_elsewhere(row.name, tenant_id=row.tenant_id):
            continue
        proven += _look_up(row.tenant, row, None, audit_failure=False).proven
    return proven


def host_remove(*, tenant: Tenant, actor, name: str) -> str:
    """Stop serving a custom host (the site's own host stays: it is the site's address)."""
    _check_may_manage(tenant, actor)
    name = _lookup_name(name)
    with transaction.atomic():
        row = TenantHost.objects.select_for_update().filter(tenant=tenant, name=name).first()
        if row is None:
            raise ApplicationError("That host is no longer on the site; reload the page.")
        if row.name == tenant.host:
            raise ApplicationError(f"{row.name} is the site's own address; it can't be removed.")
        row.delete()
        audit_record(
            action=Action.TENANT_HOST_REMOVED,
            actor=actor,
            obj=tenant,
            before={"host": row.name, "proven": row.is_proven},
            message=f"{row.name} removed from {tenant.slug}",
        )
        if row.is_proven:
            sitechange.apply_change(tenant, actor, "custom host")
    return row.name


def request_host(tenant: Tenant, old_host: str = "") -> None:
    """A request's own custom host gets its row at once, so the beat looks for its proof; a
    resubmitted request that changed its host drops the old one's (of no use now)."""
    if old_host and old_host != tenant.host:
        tenant.hosts.filter(name=old_host).delete()
    if is_custom(tenant):
        TenantHost.objects.get_or_create(
            tenant=tenant, name=tenant.host, defaults={"added_by": tenant.owner}
        )
