"""Asking for a reconcile: record the run in the database, queue the task once committed."""

from datetime import timedelta

from django.db import transaction
from django.db.models.functions import Now

from portal import requestcontext
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
                # The name the audit trail gives the same act (cli:<login> for an operator).
                requested_by_name=(
                    actor.get_username() if actor else requestcontext.current().actor_name
                )
                or "system",
            )
    tenant_id = tenant.pk
    transaction.on_commit(lambda: enqueue(tenant_id))
    return run


def _oldest_open(tenant_id: int):
    return Run.objects.filter(tenant_id=tenant_id, status__in=Run.OPEN).order_by("created_at", "id")


def enqueue(tenant_id: int, countdown: float | None = None) -> None:
    """Queue the one live message of the tenant's oldest open run; every earlier copy is stale.

    Each message carries the run and its wake-up number (as NetBox's enqueue_once keeps one job
    per object): a copy whose number is no longer the run's drops itself, so re-queueing never
    multiplies the work however many copies a broker holds.
    """
    delay = max(0.0, countdown or 0.0)
    with transaction.atomic():
        run = _oldest_open(tenant_id).select_for_update(no_key=True).first()
        if run is None:
            return
        wakeup = run.wakeup + 1
        Run.objects.filter(pk=run.pk).update(
            wakeup=wakeup, wakeup_at=Now() + timedelta(seconds=delay)
        )
    # Called outside a transaction (or on commit): the worker must see the new wake-up.
    send(tenant_id, run.pk, wakeup, delay)


def is_live(tenant_id: int, run_id: int, wakeup: int) -> bool:
    """True while the message (run, wake-up) is its tenant's live one."""
    run = _oldest_open(tenant_id).values_list("pk", "wakeup").first()
    return run == (run_id, wakeup)


def send(tenant_id: int, run_id: int, wakeup: int, countdown: float = 0.0) -> None:
    from provisioning.tasks import reconcile_tenant

    # No time limits in the message: Celery would otherwise bake in the sender's, and the
    # worker's own must rule, since its lease is checked against them (provisioning.checks).
    reconcile_tenant.apply_async(
        (tenant_id, run_id, wakeup),
        countdown=countdown or None,
        time_limit=None,
        soft_time_limit=None,
    )
