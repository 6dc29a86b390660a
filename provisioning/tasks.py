"""Celery tasks: thin wrappers that hand ids to the engine and re-queue what must wait."""

from celery import shared_task

from provisioning import engine, rollout, runs, sweeps
from provisioning.errors import LockHeld
from provisioning.locks import lease_left


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def reconcile_tenant(tenant_id: int, run_id: int | None = None, wakeup: int | None = None) -> None:
    """Advance the tenant's open run if this is its live message; queue the next wake-up."""
    if run_id is not None and not runs.is_live(tenant_id, run_id, wakeup):
        return  # a stale copy: the live message (or the run's end) speaks for the run
    try:
        delay = engine.reconcile(tenant_id)
    except LockHeld:
        # The holder queues what follows when it is done (and so makes this copy stale). In
        # case it died, the live copy comes back once the lease would have run out: the same
        # wake-up, so it never multiplies, and a holder that lives on bumps it meanwhile.
        if run_id is not None:
            runs.send(tenant_id, run_id, wakeup, countdown=lease_left(tenant_id) + 0.5)
        return
    if delay is not None:
        runs.enqueue(tenant_id, countdown=delay)


@shared_task(ignore_result=True)
def reconcile_all() -> None:
    """Beat, every minute: end dead runs, re-send lost messages, start due drift checks."""
    sweeps.sweep()


@shared_task(ignore_result=True)
def reconcile_outdated() -> None:
    """Beat, hourly: reconcile the tenants last built from another tenant image."""
    rollout.tenant_image_rollout()
