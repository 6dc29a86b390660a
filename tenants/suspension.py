"""Suspending a tenant (scaled to zero, its host on the maintenance page) and resuming it."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal import roles
from portal.errors import ApplicationError
from portal.freetext import refuse_nul
from provisioning import runs
from tenants.audit import audit_record
from tenants.models import AuditEvent, Tenant

Action = AuditEvent.Action
# Suspension changes what a built tenant runs: only one that is built and not being changed.
SETTLED = (Tenant.State.READY, Tenant.State.FAILED)


def refuse(*, tenant: Tenant, actor, what: str, why: str) -> ApplicationError:
    """Audit a refusal an auditor would want to see (someone tried), and return the error."""
    audit_record(action=Action.TENANT_REFUSED, actor=actor, obj=tenant, message=f"{what}: {why}")
    return ApplicationError(why)


def _snapshot(tenant: Tenant) -> dict:
    return {
        "suspended": tenant.is_suspended,
        "suspension_reason": tenant.suspension_reason,
        "state": tenant.state,
    }


def _check_settled(tenant: Tenant, verb: str) -> None:
    if not tenant.desired_present or tenant.state in (
        Tenant.State.DELETING,
        Tenant.State.DELETED,
    ):
        raise ApplicationError(f"This tenant is being deleted or gone; it can't be {verb}.")
    if tenant.state not in SETTLED:
        raise ApplicationError(
            f"Only a ready or failed tenant can be {verb}; this one is "
            f"“{tenant.state_label}”. Try again once it has settled."
        )


def _apply(
    *, tenant: Tenant, actor, only, changes: dict, reason: str, action: str, message: str = ""
) -> None:
    """Change the desired state if the tenant is still as checked, queue a run, audit it."""
    before = _snapshot(tenant)
    with transaction.atomic():
        won = only.filter(pk=tenant.pk, state__in=SETTLED).update(
            **changes, updated_at=timezone.now()
        )
        if not won:
            raise ApplicationError("This tenant changed a moment ago; reload the page.")
        tenant.refresh_from_db()
        runs.run_request(tenant=tenant, action=runs.APPLY, reason=reason, actor=actor)
        audit_record(
            action=action,
            actor=actor,
            obj=tenant,
            before=before,
            after=_snapshot(tenant),
            message=message,
        )


def tenant_suspend(*, tenant: Tenant, actor, reason: str = "") -> Tenant:
    """Scale the site to zero and show the maintenance page on its host; admins may suspend
    any tenant (saying why, for the owner), owners their own."""
    reason = (reason or "").strip()
    admin = actor is None or roles.is_approver(actor)
    if not admin and tenant.owner_id != actor.pk:
        raise refuse(
            tenant=tenant,
            actor=actor,
            what="suspend",
            why="Only the owner or a platform admin can suspend a tenant.",
        )
    if tenant.is_suspended:
        raise ApplicationError("This tenant is already suspended.")
    _check_settled(tenant, "suspended")
    refuse_nul("reason", reason, "The reason")
    if admin and actor is not None and tenant.owner_id != actor.pk and not reason:
        raise ValidationError({"reason": ["Say why: the owner reads it on the tenant page."]})
    _apply(
        tenant=tenant,
        actor=actor,
        only=Tenant.objects.filter(suspended_at__isnull=True, desired_present=True),
        changes={
            "suspended_at": timezone.now(),
            "suspended_by": actor,
            "suspension_reason": reason,
        },
        reason="suspend",
        action=Action.TENANT_SUSPENDED,
        message=reason,
    )
    return tenant


def tenant_resume(*, tenant: Tenant, actor) -> Tenant:
    """Bring a suspended site back with its plan's replicas; a suspension an admin imposed is
    lifted by an admin only."""
    admin = actor is None or roles.is_approver(actor)
    if not admin and tenant.owner_id != actor.pk:
        raise refuse(
            tenant=tenant,
            actor=actor,
            what="resume",
            why="Only the owner or a platform admin can resume a tenant.",
        )
    if not tenant.is_suspended:
        raise ApplicationError("This tenant is not suspended; there is nothing to resume.")
    if tenant.delete_after is not None:
        raise ApplicationError(
            "This tenant is suspended because it is to be deleted; cancel the deletion to keep it."
        )
    imposed = tenant.suspended_by_id is not None and tenant.suspended_by_id != tenant.owner_id
    if not admin and imposed:
        raise refuse(
            tenant=tenant,
            actor=actor,
            what="resume",
            why="A platform admin suspended this tenant; ask one to resume it.",
        )
    _check_settled(tenant, "resumed")
    _apply(
        tenant=tenant,
        actor=actor,
        only=Tenant.objects.filter(suspended_at__isnull=False),
        changes={"suspended_at": None, "suspended_by": None, "suspension_reason": ""},
        reason="resume",
        action=Action.TENANT_RESUMED,
    )
    return tenant
