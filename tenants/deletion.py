"""Deletion with a way back: suspended for a grace period, purged after it unless cancelled;
with no grace period, purged at once, by the same path: the final backup, then the teardown."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal import roles
from portal.errors import ApplicationError
from provisioning import runs
from tenants.audit import audit_record
from tenants.models import AuditEvent, Backup, Tenant
from tenants.suspension import SETTLED

Action = AuditEvent.Action


def deletion_has_grace(tenant: Tenant) -> bool:
    """Whether asking to delete this tenant starts a grace period rather than the teardown:
    only a built tenant (a run under way on it or not), and only when the grace period is on."""
    return settings.PORTAL_DELETE_GRACE_DAYS > 0 and (tenant.state in SETTLED or _served(tenant))


def deletion_days(tenant: Tenant, *, now: bool = False) -> int | None:
    """Days a deletion of this tenant waits: the grace period (none with `now`), or 0 for a
    site to save first, its final backup taken at once; None when there is neither (nothing
    built, or nothing to save in plan mode without a grace period): torn down at once. A
    deletion already waiting is asked again: brought forward with no grace, else refused."""
    grace = 0 if now else settings.PORTAL_DELETE_GRACE_DAYS
    if tenant.delete_after is not None or (grace and deletion_has_grace(tenant)):
        return grace
    return 0 if deletion_saves(tenant) else None


def deletion_saves(tenant: Tenant) -> bool:
    """Whether deleting this tenant takes a final backup first: it has a site to save, one it
    served since it was last built, whatever run is under way on it now (the deletion's own
    suspension makes it "provisioning"), where backups are configured (in plan mode no
    database or files were made)."""
    from tenants.backups import backups_configured  # it imports tenants.suspension

    return _served(tenant) and backups_configured()


def _served(tenant: Tenant) -> bool:
    """Ready, or ready since it was last built: a tenant whose first build failed served no
    site, and its final backup would fail for want of one."""
    if tenant.state == Tenant.State.READY:
        return True
    last = (
        AuditEvent.objects.filter(
            object_type="tenant",
            object_id=str(tenant.pk),
            action__in=[Action.TENANT_READY, Action.TENANT_DELETED],
        )
        .values_list("action", flat=True)
        .first()  # the newest (AuditEvent's ordering)
    )
    return last == Action.TENANT_READY


def deletion_due(tenant: Tenant) -> bool:
    """Whether the tenant's deletion is due: its purge under way, or kept for the next look."""
    return (
        tenant.desired_present
        and tenant.delete_after is not None
        and tenant.delete_after <= timezone.now()
    )


def deletion_held_by(tenant: Tenant) -> str:
    """Why a deletion that is due hasn't torn the tenant down: its final backup failed."""
    if not deletion_due(tenant):
        return ""
    # Taken once it was due: an earlier final backup is of a deletion cancelled since.
    last = tenant.backups.filter(reason="final", created_at__gte=tenant.delete_after).first()
    if last is None or last.state != last.State.FAILED:
        return ""
    return last.error or "it failed"


def _snapshot(tenant: Tenant) -> dict:
    return {
        "delete_after": tenant.delete_after.isoformat() if tenant.delete_after else None,
        "suspended": tenant.is_suspended,
        "state": tenant.state,
    }


def _change(*, tenant: Tenant, actor, only, changes: dict, run_reason: str, action: str) -> None:
    """Change the row if it is still as checked; a run when the suspension changes; audit."""
    before = _snapshot(tenant)
    with transaction.atomic():
        won = only.filter(pk=tenant.pk, desired_present=True).update(
            **changes, updated_at=timezone.now()
        )
        if not won:
            raise ApplicationError("This tenant changed a moment ago; reload the page.")
        tenant.refresh_from_db()
        if run_reason:
            runs.run_request(tenant=tenant, action=runs.APPLY, reason=run_reason, actor=actor)
        audit_record(action=action, actor=actor, obj=tenant, before=before, after=_snapshot(tenant))


def tenant_schedule_deletion(*, tenant: Tenant, actor, days: int) -> Tenant:
    """Suspend the tenant now and have the purge delete it `days` later; with 0, a worker's
    purge is queued at once (and a deletion already waiting is due now, tried again).
    Callers check who may delete (tenants.services.tenant_delete)."""
    now = timezone.now()
    if tenant.delete_after is not None and days:
        raise ApplicationError(
            f"This tenant is already to be deleted on {tenant.delete_after:%Y-%m-%d %H:%M} UTC; "
            "cancel the deletion to keep it."
        )
    if tenant.delete_after is not None:
        # Asked again while its final backup is being taken: that backup is the deletion's,
        # and moving the date would hide its outcome (deletion_held_by counts those since).
        if tenant.backups.filter(reason="final", state=Backup.State.RUNNING).exists():
            raise ApplicationError(
                "This tenant's final backup is being taken now; the site is removed once it is "
                "done, and the page says so if it fails."
            )
        _change(
            tenant=tenant,
            actor=actor,
            only=Tenant.objects.filter(delete_after__isnull=False),
            # Asked again now: an earlier final backup that failed is no longer the word.
            changes={"delete_after": now},
            run_reason="",
            action=Action.TENANT_DELETE_SCHEDULED,
        )
        purge_soon(tenant)
        return tenant
    when = now + timedelta(days=days)
    own_suspension = not tenant.is_suspended
    changes = {"delete_after": when, "deletion_suspended": own_suspension}
    if own_suspension:
        changes |= {
            "suspended_at": now,
            "suspended_by": actor,
            "suspension_reason": f"To be deleted on {when:%Y-%m-%d} unless cancelled."
            if days
            else "To be deleted once its final backup is taken.",
        }
    _change(
        tenant=tenant,
        actor=actor,
        only=Tenant.objects.filter(delete_after__isnull=True),
        changes=changes,
        # Suspended at once: the site is closed to its visitors while its final backup is taken.
        run_reason="delete later" if own_suspension else "",
        action=Action.TENANT_DELETE_SCHEDULED,
    )
    if not days:
        purge_soon(tenant)
    return tenant


def purge_soon(tenant: Tenant) -> None:
    """Have a worker purge the tenant once committed: a final backup outlasts a web request.
    Should the message be lost, the beat's purge finds the tenant due all the same."""
    from tenants.tasks import WORKERS_LIMITS, purge_tenant  # tasks import this module

    tenant_id = tenant.pk
    transaction.on_commit(lambda: purge_tenant.apply_async((tenant_id,), **WORKERS_LIMITS))


def tenant_cancel_deletion(*, tenant: Tenant, actor) -> Tenant:
    """Keep the tenant: no purge, and the deletion's suspension lifted (another one stays)."""
    if actor is not None and not roles.is_approver(actor) and tenant.owner_id != actor.pk:
        raise ApplicationError("Only the owner or a platform admin can cancel a deletion.")
    if not tenant.desired_present:
        raise ApplicationError(
            "This tenant is being torn down or is gone; its deletion can't be cancelled now."
        )
    if tenant.delete_after is None:
        raise ApplicationError(
            "No deletion is waiting for this tenant; there is nothing to cancel."
        )
    changes = {"delete_after": None, "deletion_suspended": False}
    lift = tenant.deletion_suspended
    if lift:
        changes |= {"suspended_at": None, "suspended_by": None, "suspension_reason": ""}
    _change(
        tenant=tenant,
        actor=actor,
        only=Tenant.objects.filter(delete_after__isnull=False),
        changes=changes,
        run_reason="keep" if lift else "",
        action=Action.TENANT_DELETE_CANCELLED,
    )
    return tenant


def tenant_purge(tenant: Tenant) -> bool:
    """Tear down a tenant whose deletion is due, after a final backup; False (and kept for the
    next look) when that backup failed or is being taken by another worker, the tenant is busy,
    or its deletion was cancelled meanwhile."""
    from tenants import backups, services  # they import this module

    if not _due().filter(pk=tenant.pk).exists():
        return False  # cancelled, or another worker's purge tore it down already
    final = backups.backup_final(tenant) if deletion_saves(tenant) else None
    if final is not None and final.state != final.State.DONE:
        return False  # the failed backup is audited and on the page; never delete unsaved
    try:
        # Only while still due: a deletion cancelled during the backup keeps the tenant.
        services.tenant_teardown(tenant=tenant, actor=None, only=_due())
    except ApplicationError:
        return False  # busy (a run under way) or gone meanwhile
    return True


def _due():
    return Tenant.objects.filter(delete_after__lte=timezone.now(), desired_present=True)


def tenants_due_for_purge(tenant_id: int | None = None) -> list[Tenant]:
    """The tenants whose deletion is due (of them, the one asked for)."""
    due = _due() if tenant_id is None else _due().filter(pk=tenant_id)
    return list(due.select_related("plan", "owner"))
