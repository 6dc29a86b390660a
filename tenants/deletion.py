"""Deletion with a way back: suspended for a grace period, purged after it unless cancelled."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from portal import roles
from portal.errors import ApplicationError
from provisioning import runs
from tenants.audit import audit_record
from tenants.models import AuditEvent, Tenant
from tenants.suspension import SETTLED

Action = AuditEvent.Action


def deletion_has_grace(tenant: Tenant) -> bool:
    """Whether asking to delete this tenant starts a grace period rather than the teardown:
    only a built tenant, and only when the grace period is on."""
    return settings.PORTAL_DELETE_GRACE_DAYS > 0 and tenant.state in SETTLED


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


def tenant_schedule_deletion(*, tenant: Tenant, actor) -> Tenant:
    """Suspend the tenant now and have the purge delete it once the grace period is over.
    Callers check who may delete (tenants.services.tenant_delete)."""
    if tenant.delete_after is not None:
        raise ApplicationError(
            f"This tenant is already to be deleted on {tenant.delete_after:%Y-%m-%d %H:%M} UTC; "
            "cancel the deletion to keep it."
        )
    when = timezone.now() + timedelta(days=settings.PORTAL_DELETE_GRACE_DAYS)
    own_suspension = not tenant.is_suspended
    changes = {"delete_after": when, "deletion_suspended": own_suspension}
    if own_suspension:
        changes |= {
            "suspended_at": timezone.now(),
            "suspended_by": actor,
            "suspension_reason": f"To be deleted on {when:%Y-%m-%d} unless cancelled.",
        }
    _change(
        tenant=tenant,
        actor=actor,
        only=Tenant.objects.filter(delete_after__isnull=True, state__in=SETTLED),
        changes=changes,
        run_reason="delete later" if own_suspension else "",
        action=Action.TENANT_DELETE_SCHEDULED,
    )
    return tenant


def tenant_cancel_deletion(*, tenant: Tenant, actor) -> Tenant:
    """Keep the tenant: no purge, and the deletion's suspension lifted (another one stays)."""
    if actor is not None and not roles.is_approver(actor) and tenant.owner_id != actor.pk:
        raise ApplicationError("Only the owner or a platform admin can cancel a deletion.")
    if tenant.delete_after is None or not tenant.desired_present:
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
    """Tear down a tenant whose grace period is over, after a final backup; False (and kept
    for the next look) when that backup failed or the tenant is busy."""
    from tenants import backups, services  # they import this module

    final = backups.backup_final(tenant)
    if final is not None and final.state != final.State.DONE:
        return False  # the failed backup is audited and on the page; never delete unsaved
    try:
        services.tenant_delete(tenant=tenant, actor=None, now=True)
    except ApplicationError:
        return False  # busy (a run under way) or gone meanwhile
    return True


def tenants_due_for_purge() -> list[Tenant]:
    return list(
        Tenant.objects.select_related("plan", "owner").filter(
            delete_after__lte=timezone.now(), desired_present=True
        )
    )
