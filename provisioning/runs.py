"""Asking for a reconcile: record the run in the database, queue the task once committed."""

from contextlib import nullcontext
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Max, Subquery
from django.db.models.constants import OnConflict
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Now
from django.db.models.sql.subqueries import InsertQuery

from portal import requestcontext
from portal.errors import ApplicationError
from provisioning.models import Run
from tenants.audit import CHAIN_LOCK

APPLY, DESTROY, CHECK = Run.Action.APPLY, Run.Action.DESTROY, Run.Action.CHECK
# Each retry follows a run of the same tenant committed meanwhile: more is no longer a race.
ATTEMPTS = 5


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
        # Read again if the number was taken meanwhile: the run that took it, now committed,
        # may be the one to reuse, and the tenant's only open run no longer.
        for _ in range(ATTEMPTS):
            open_runs = list(_oldest_open(tenant.pk))
            run = next(
                (r for r in open_runs if r.action == action and r.status == Run.Status.PENDING),
                None,
            )
            # The tenant's only open run carries its first wake-up from the start, so nothing is
            # left for enqueue() to bump: its message goes out as soon as the run is committed.
            # wakeup_at stays empty, as for a message never sent: should the sender die before
            # it goes, the next sweep sends it (a copy besides one that did go acts only once).
            first = run is None and not open_runs
            if run is not None:
                break
            run = _new_run(tenant=tenant, action=action, reason=reason, actor=actor, first=first)
            if _inserted(run):
                break
        else:
            raise ApplicationError("Too many runs were asked for this tenant at once; try again.")
    tenant_id, run_id = tenant.pk, run.pk
    if first:
        transaction.on_commit(lambda: send(tenant_id, run_id, 1))
    else:
        transaction.on_commit(lambda: enqueue(tenant_id))
    return run


def _new_run(*, tenant, action: str, reason: str, actor, first: bool) -> Run:
    actor = actor if getattr(actor, "is_authenticated", False) else None
    return Run(
        tenant=tenant,
        action=action,
        reason=reason,
        requested_by=actor,
        # The name the audit trail gives the same act (cli:<login> for an operator).
        requested_by_name=(actor.get_username() if actor else requestcontext.current().actor_name)
        or "system",
        wakeup=1 if first else 0,
        number=_next_number(tenant.pk),
    )


def _next_number(tenant_id: int):
    """The tenant's next run number, worked out inside the INSERT (no statement of its own).
    Unique per tenant (run_number_unique_per_tenant): a run asked for at the very same moment,
    whose INSERT read the same last number, takes none and asks again (_inserted)."""
    last = Run.objects.filter(tenant_id=tenant_id).order_by().values("tenant_id")
    number = Coalesce(Subquery(last.annotate(top=Max("number")).values("top")), 0) + 1
    if connection.vendor != "postgresql":
        return number
    # The audit chain's lock first, held to the commit as every audit writer holds it: a run
    # whose number another waits for is then never that of a transaction waiting to audit (a
    # deadlock, one request failed), and the requests that ask for a run and audit, nearly
    # all, took turns at the chain already.
    return number + RawSQL("(SELECT 0 FROM pg_advisory_xact_lock(%s))", [CHAIN_LOCK])


def _inserted(run: Run) -> bool:
    """Insert the run as save() would; False, with nothing written, if its number was taken.

    On PostgreSQL the INSERT waits at the audit chain's lock (_next_number) for a transaction
    that may hold the number until it ends, then does nothing if it took the number (ON
    CONFLICT DO NOTHING): the caller's transaction goes on unharmed, with no savepoint around
    the INSERT (two statements more, issue 14).
    SQLite runs one writer at a time, so two INSERTs never read the same last number there.
    """
    meta = Run._meta
    query = InsertQuery(
        Run, on_conflict=OnConflict.IGNORE if connection.vendor == "postgresql" else None
    )
    query.insert_values([f for f in meta.local_concrete_fields if f is not meta.auto_field], [run])
    returning = meta.db_returning_fields
    (row,) = query.get_compiler(connection=connection).execute_sql(returning)
    if row is None:
        return False
    for field, value in zip(returning, row, strict=True):
        setattr(run, field.attname, value)
    run._state.adding, run._state.db = False, connection.alias
    # The number was computed by the INSERT itself; read it only if asked for.
    del run.number
    return True


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
