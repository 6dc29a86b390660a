"""Asking for a reconcile: record the run in the database, queue the task once committed."""

from contextlib import nullcontext
from datetime import timedelta

from django.db import transaction
from django.db.models import Max, Subquery
from django.db.models.functions import Coalesce, Now

from portal import requestcontext
from provisioning.models import Run

APPLY, DESTROY, CHECK = Run.Action.APPLY, Run.Action.DESTROY, Run.Action.CHECK


def run_request(*, tenant, action: str, reason: str, actor=None) -> Run:
    """A pending run for the tenant (reusing one not yet started), queued on commit."""
    # Outside a caller's transaction a request that only adds a run is two statements, the
    # read and the insert: nothing there to make atomic (issue 14). A deletion's cancel is.
    with transaction.atomic() if action == DESTROY else nullcontext():
        if action == DESTROY:
            # Deletion wins: nothing left to build should still be built.
            Run.objects.filter(tenant=tenant, status__in=Run.OPEN).exclude(action=DESTROY).update(
                status=Run.Status.CANCELLED, error="Superseded by the deletion."
            )
        open_runs = list(_oldest_open(tenant.pk))
        run = next(
            (r for r in open_runs if r.action == action and r.status == Run.Status.PENDING), None
        )
        # The tenant's only open run carries its first wake-up from the start, so nothing is
        # left for enqueue() to bump: its message goes out as soon as the run is committed.
        # wakeup_at stays empty, as for a message never sent: should the sender die before it
        # goes, the next sweep sends it (a copy besides one that did go acts only once).
        first = run is None and not open_runs
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
                wakeup=1 if first else 0,
                number=_next_number(tenant.pk),
            )
            # The number was computed by the INSERT itself; read it only if asked for.
            del run.number
    tenant_id, run_id = tenant.pk, run.pk
    if first:
        transaction.on_commit(lambda: send(tenant_id, run_id, 1))
    else:
        transaction.on_commit(lambda: enqueue(tenant_id))
    return run


def _next_number(tenant_id: int):
    """The tenant's next run number, worked out inside the INSERT (no statement of its own).
    Two runs asked for at the very same moment may share a number; it only names them."""
    last = Run.objects.filter(tenant_id=tenant_id).order_by().values("tenant_id")
    return Coalesce(Subquery(last.annotate(top=Max("number")).values("top")), 0) + 1


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
