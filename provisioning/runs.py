"""Asking for a reconcile: record the run in the database, queue the task once committed."""

from django.db import transaction

from provisioning.models import Run

APPLY, DESTROY, CHECK = Run.Action.APPLY, Run.Action.DESTROY, Run.Action.CHECK


def run_request(*, tenant, action: str, reason: str, actor=None) -> Run:
    """A pending run for the tenant (reusing one not yet started), queued on commit."""
    with transaction.atomic():
        if action == DESTROY:
            # Deletion wins: nothing left to build should still be built.
            Run.objects.filter(tenant=tenant, status__in=Run.OPEN).exclude(action=DESTROY).update(
                status=Run.Status.CANCELLED, error="Superseded by the deletion."
            )
        run = Run.objects.filter(tenant=tenant, action=action, status=Run.Status.PENDING).first()
        if run is None:
            actor = actor if getattr(actor, "is_authenticated", False) else None
            run = Run.objects.create(
                tenant=tenant,
                action=action,
                reason=reason,
                requested_by=actor,
                requested_by_name=actor.get_username() if actor else "system",
            )
    tenant_id = tenant.pk
    transaction.on_commit(lambda: enqueue(tenant_id))
    return run


def enqueue(tenant_id: int, countdown: float | None = None) -> None:
    from provisioning.tasks import reconcile_tenant

    # No time limits in the message: Celery would otherwise bake in the sender's, and the
    # worker's own must rule, since its lease is checked against them (provisioning.checks).
    reconcile_tenant.apply_async(
        (tenant_id,), countdown=countdown, time_limit=None, soft_time_limit=None
    )
