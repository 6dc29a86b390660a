"""Moving a tenant to another plan: smaller at once, larger by an admin, the usage rule, or on
request."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal import roles
from portal.errors import ApplicationError
from provisioning import runs
from provisioning.capacity import plan_capacity_hint
from tenants.audit import audit_record
from tenants.models import AuditEvent, Plan, Tenant
from tenants.suspension import SETTLED, refuse
from tenants.upsizing_rule import upsizing_evidence

Action = AuditEvent.Action

APPLIED, REQUESTED, RULE_APPLIED = "applied", "requested", "applied by the rule"

# What a plan gives a tenant: one of them larger makes the move an upsizing.
_SIZES = (
    lambda p: p.cpu_request_millicores * p.replicas,
    lambda p: p.memory_request_mib * p.replicas,
    lambda p: p.cpu_limit_millicores,
    lambda p: p.memory_limit_mib,
    lambda p: p.storage_gib,
    lambda p: p.replicas,
    lambda p: p.max_pods,
    lambda p: p.max_db_connections,
)


def plan_grows(old: Plan, new: Plan) -> bool:
    return any(size(new) > size(old) for size in _SIZES)


def _snapshot(tenant: Tenant) -> dict:
    return {
        "plan": tenant.plan.name,
        "volume_gib": max(tenant.plan.storage_gib, tenant.volume_gib),
        "requested_plan": tenant.requested_plan.name if tenant.requested_plan else None,
    }


def _check(tenant: Tenant, plan: Plan) -> None:
    if not tenant.desired_present or tenant.state not in SETTLED:
        raise ApplicationError(
            f"Only a ready or failed tenant can change its plan; this one is "
            f"“{tenant.state_label}”. Try again once it has settled."
        )
    if tenant.delete_after is not None:
        raise ApplicationError("This tenant is to be deleted; cancel the deletion first.")
    if plan.pk == tenant.plan_id:
        raise ValidationError({"plan": [f"{tenant.slug} is already on the {plan.title} plan."]})
    if not plan.is_active:
        raise ValidationError({"plan": ["This plan is no longer offered; choose another."]})


def _no_room(tenant: Tenant, plan: Plan) -> str:
    """Why the cluster can't take the plan, in words; empty when it can (or is unmeasured)."""
    hint = plan_capacity_hint(plan, replacing=tenant)
    if hint is None or hint.fits:
        return ""
    return (
        f"The cluster has no room for {plan.title}: its requests would reach "
        f"{hint.cpu_percent_after} % of the CPU and {hint.memory_percent_after} % "
        "of the memory. Choose a smaller plan, or add capacity first."
    )


def volume_note(tenant: Tenant, plan: Plan) -> str:
    """What a move to the plan does to the volume, in words; empty when it follows the plan."""
    have = max(tenant.plan.storage_gib, tenant.volume_gib)
    if plan.storage_gib < have:
        return f"The volume stays at {have} GiB: a volume never shrinks."
    return ""


def _request(tenant: Tenant, actor, plan: Plan, evidence: dict) -> str:
    before = _snapshot(tenant)
    with transaction.atomic():
        Tenant.objects.filter(pk=tenant.pk).update(
            requested_plan=plan, plan_requested_at=timezone.now(), plan_evidence=evidence
        )
        tenant.refresh_from_db()
        audit_record(
            action=Action.TENANT_PLAN_REQUESTED,
            actor=actor,
            obj=tenant,
            before=before,
            after={**_snapshot(tenant), "evidence": evidence},
            message=evidence["verdict"],
        )
    return REQUESTED


def _apply(tenant: Tenant, actor, plan: Plan, evidence: dict | None = None) -> None:
    before = _snapshot(tenant)
    note = volume_note(tenant, plan)
    fields = {"plan_evidence": evidence} if evidence else {}
    with transaction.atomic():
        won = Tenant.objects.filter(
            pk=tenant.pk, plan_id=tenant.plan_id, state__in=SETTLED, desired_present=True
        ).update(
            plan=plan,
            volume_gib=max(tenant.volume_gib, tenant.plan.storage_gib),
            requested_plan=None,
            plan_requested_at=None,
            updated_at=timezone.now(),
            **fields,
        )
        if not won:
            raise ApplicationError("This tenant changed a moment ago; reload the page.")
        tenant.refresh_from_db()
        runs.run_request(tenant=tenant, action=runs.APPLY, reason="plan change", actor=actor)
        after = _snapshot(tenant)
        message = note
        if evidence:  # a plan change like any (webhooks, filters), saying who approved it
            after |= {"approved_by": "usage rule", "evidence": evidence}
            message = " ".join(
                filter(None, ["Approved by the usage rule.", evidence["verdict"], note])
            )
        audit_record(
            action=Action.TENANT_PLAN_CHANGED,
            actor=actor,
            obj=tenant,
            before=before,
            after=after,
            message=message,
        )


def tenant_change_plan(*, tenant: Tenant, actor, plan: Plan) -> str:
    """Move the tenant to the plan (APPLIED); or, for the owner's request for a larger one,
    move it when the usage rule is met (RULE_APPLIED), else file the request, with the rule's
    evidence, for a platform admin to decide (REQUESTED)."""
    admin = actor is None or roles.is_approver(actor)
    if not admin and tenant.owner_id != actor.pk:
        raise refuse(
            tenant=tenant,
            actor=actor,
            what="change plan",
            why="Only the owner or a platform admin can change a tenant's plan.",
        )
    _check(tenant, plan)
    grows = plan_grows(tenant.plan, plan)
    if grows and not admin:
        evidence = upsizing_evidence(tenant=tenant, plan=plan)
        no_room = _no_room(tenant, plan) if evidence["met"] else ""
        if no_room:  # met, but an admin must make room first
            evidence["verdict"] += f" Still a request: {no_room}"
        if not evidence["met"] or no_room:
            return _request(tenant, actor, plan, evidence)
        _apply(tenant, actor, plan, {**evidence, "applied": True})
        return RULE_APPLIED
    if grows and (no_room := _no_room(tenant, plan)):
        raise ValidationError({"plan": [no_room]})
    _apply(tenant, actor, plan)
    return APPLIED


def tenant_plan_request_decline(*, tenant: Tenant, actor, reason: str = "") -> None:
    """An admin says no to the owner's request for a larger plan; the tenant stays as it is."""
    if actor is None or not roles.is_approver(actor):
        raise ApplicationError("Only platform admins decide on a larger plan.")
    if tenant.requested_plan_id is None:
        raise ApplicationError("No larger plan was asked for; there is nothing to decide.")
    before = _snapshot(tenant)
    with transaction.atomic():
        Tenant.objects.filter(pk=tenant.pk).update(requested_plan=None, plan_requested_at=None)
        tenant.refresh_from_db()
        audit_record(
            action=Action.TENANT_PLAN_DECLINED,
            actor=actor,
            obj=tenant,
            before=before,
            after=_snapshot(tenant),
            message=(reason or "").strip(),
        )
