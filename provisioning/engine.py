"""The engine: advance a tenant's oldest open run, step by step, recording every move."""

import logging
import random
import time
from contextlib import contextmanager
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Now
from django.utils import timezone

from portal import requestcontext
from provisioning import drivers, teardown, tenantimage
from provisioning.drivers.retry import waits_reported_to
from provisioning.errors import Displaced, LockHeld, StepFailed, TransientError, Unavailable
from provisioning.locks import (
    Heartbeat,
    holder_name,
    lock_release,
    lock_renew,
    release_clause,
)
from provisioning.models import Run, StepRun
from provisioning.passread import leased_run
from provisioning.spec import spec_for
from provisioning.steps import step_classes
from provisioning.steps.base import Outcome, Step, StepContext
from provisioning.stepwrites import steps_claiming, steps_park, steps_update
from provisioning.withsql import combined, prefixed
from tenants import clone, notifications, recreate, upgrade
from tenants.audit import audit_record
from tenants.models import AuditEvent, Tenant
from tenants.states import tenant_transition

log = logging.getLogger(__name__)
LOG_LIMIT = 4000  # characters of log kept per step row: enough to read, small enough to show
# A step's log lines reach its row at most this many seconds late (the page shows them live),
# and all of them with the step's outcome: not one fenced UPDATE per line, one per flush.
LOG_FLUSH_SECONDS = 1.0

State = Tenant.State
# Runs that only put a serving tenant back as it should be: their failure never unserves it
# (an image rollout, provisioning.rollout, is one).
REPAIRS = ("drift", "manual", "image")
UNFINISHED = [
    StepRun.Status.PENDING,
    StepRun.Status.RUNNING,
    StepRun.Status.WAITING,
    StepRun.Status.RETRYING,
]
Action = AuditEvent.Action


def backoff(attempt: int) -> float:
    """Exponential backoff with jitter: base·2^(attempt-1), capped, scaled by 0.5–1."""
    delay = min(
        settings.PORTAL_RETRY_MAX_DELAY, settings.PORTAL_RETRY_BASE_DELAY * 2 ** (attempt - 1)
    )
    return delay * (0.5 + random.random() / 2)  # noqa: S311  (jitter, not cryptography)


def wait_delay(waited: float, likely: float | None = None) -> float:
    """When to look again at something settling: soon at first (PORTAL_WAIT_FIRST), then after
    half as long again as it has taken so far, never later than PORTAL_WAIT_INTERVAL. A rollout
    that finishes is seen within about a third of the time it took, not a fixed interval.

    Something just started that is `likely` done sooner than PORTAL_WAIT_FIRST (its like took
    that long: Outcome.look_in) is first looked at then, a quarter of PORTAL_WAIT_FIRST at the
    soonest: the look that finds it done comes sooner, and a look more is only for one that
    takes longer than its like did. Slower likes change nothing."""
    first, most = float(settings.PORTAL_WAIT_FIRST), float(settings.PORTAL_WAIT_INTERVAL)
    if likely is not None and waited == 0:
        first = min(first, max(first / 4, likely))
    return min(most, max(first, waited / 2))


def reconcile(tenant_id: int) -> float | None:
    """Advance the tenant's open run as far as it can go now.

    Returns the seconds after which the tenant should be looked at again (a step is waiting
    or retrying, or another run is queued behind this one), or None when nothing is left.
    Raises LockHeld when another worker holds the tenant.
    """
    holder = holder_name()
    run, leased = leased_run(tenant_id=tenant_id, holder=holder)
    if not leased:
        raise LockHeld(f"tenant {tenant_id} is being reconciled by another worker")
    advance = None
    try:
        if run is None:
            return None
        if run.due_in is not None and run.due_in.total_seconds() > 0:
            return run.due_in.total_seconds()
        advance = _Advance(run, holder)
        try:
            # The log lines of the run's steps name the tenant and the run (portal.logs).
            with requestcontext.scoped(tenant=run.tenant.slug, run_id=run.pk):
                return advance.go()
        except Displaced as exc:
            # Our lease ran out and another worker claimed the run: it carries on, we stop.
            log.warning("tenant %s run %s: %s", tenant_id, run.pk, exc)
            return None
        except Exception as exc:
            # The engine's own bookkeeping broke (a database error, a bug): end the run with
            # a message rather than leave it running and the tenant provisioning for ever.
            log.exception("engine crashed on run %s of tenant %s", run.pk, tenant_id)
            advance.abort(f"internal error in the engine ({exc.__class__.__name__}); see the log.")
            return _open_runs_delay(tenant_id)
    finally:
        if advance is None or not advance.released:  # a pass's last write may have released it
            lock_release(tenant_id=tenant_id, holder=holder)


def _open_runs_delay(tenant_id: int) -> float | None:
    more = Run.objects.filter(tenant_id=tenant_id, status__in=Run.OPEN).exists()
    return 0 if more else None


def _short(text: str) -> str:
    limit = Run._meta.get_field("message").max_length
    return text if len(text) <= limit else text[: limit - 1] + "…"


def abort_stalled(run: Run, message: str) -> bool:
    """End a run no worker has worked on for too long (the sweep's call). The new token fences
    out a holder that might still come back; False if a worker took the run up meanwhile."""
    cause = f"The run stopped: {message}"
    with transaction.atomic():
        ended = (
            Run.objects.filter(pk=run.pk, token=run.token, status__in=Run.OPEN)
            .filter(Q(tenant__lock_holder="") | Q(tenant__lock_expires_at__lt=Now()))
            .update(
                status=Run.Status.FAILED,
                finished_at=timezone.now(),
                error=cause[:LOG_LIMIT],
                message=_short(cause),
                token=F("token") + 1,
            )
        )
        if not ended:
            return False
        StepRun.objects.filter(
            run_id=run.pk,
            status__in=UNFINISHED,
        ).update(status=StepRun.Status.SKIPPED)
        _run_failed(run, cause)
    return True


def _run_failed(run: Run, cause: str) -> bool:
    """What a failed run means for its tenant: a repair of a serving tenant (a drift run, a
    reconcile asked for by hand) leaves it serving — degraded, shown from the run —, a run an
    outage ended leaves it waiting for that system (the sweep tries again), and any other run
    fails the tenant. True when the tenant failed."""
    if run.action == Run.Action.CHECK:
        return False
    serving = Tenant.objects.filter(pk=run.tenant_id, state=State.READY).exists()
    if serving and run.reason in REPAIRS:
        log.warning("tenant %s degraded, still ready: %s", run.tenant_id, cause)
        if run.drift:
            tenant = Tenant.objects.get(pk=run.tenant_id)
            audit_record(
                action=Action.TENANT_DRIFT,
                obj=tenant,
                after={"differences": run.drift},
                message=f"Not repaired: {cause}",
            )
        return False
    if run.outage:
        log.warning("tenant %s waits for %s: %s", run.tenant_id, run.outage, cause)
        Tenant.objects.filter(pk=run.tenant_id).update(
            last_error=f"Waiting for {run.outage}; the portal tries again by itself. {cause}"
        )
        return False
    _tenant_failed(run.tenant_id, cause)
    return True


def _tenant_failed(tenant_id: int, cause: str) -> None:
    if tenant_transition(tenant_id=tenant_id, to=State.FAILED):
        Tenant.objects.filter(pk=tenant_id).update(last_error=cause)
        tenant = Tenant.objects.get(pk=tenant_id)
        audit_record(action=Action.TENANT_FAILED, obj=tenant, message=cause)
        notifications.queue_notice("failed", tenant_id)


class _Advance:
    """One pass over one run, under the tenant's lease, every write fenced by the run's token."""

    def __init__(self, run: Run, holder: str):
        self.run = run
        self.holder = holder
        self.token: int | None = None  # set by the claim
        self.is_drift = run.reason == "drift"
        self.first_start = False
        self._renewed = time.monotonic()  # the lease, just taken by reconcile()
        # A step's outcome, written by the next fenced write of the pass (the next step's
        # start, the wait, the run's end) rather than by one of its own (issue 14).
        self._finished: list[tuple[int, dict]] = []
        self._begun: int | None = None  # the step row whose start the run's start wrote
        self.released = False  # the lease, by the pass's last statement

    @contextmanager
    def fenced(self):
        """A transaction whose writes count only while the run is still ours: the row lock
        makes a takeover wait for our commit, and a takeover already made refuses us."""
        no_key = connection.features.has_select_for_no_key_update
        with transaction.atomic():
            mine = Run.objects.select_for_update(no_key=no_key).filter(
                pk=self.run.pk, token=self.token
            )
            if not list(mine.values_list("pk", flat=True)):
                raise Displaced(f"run {self.run.pk} was taken over; this pass's writes refused")
            self._write_finished()
            yield

    @contextmanager
    def fenced_run(self, **fields):
        """A fenced transaction that begins by writing the run's row: that UPDATE, filtered by
        the token, is the fence (it takes the same row lock as the SELECT of fenced()). Yields
        whether the run was still running — a run a deletion superseded is written nothing."""
        with transaction.atomic():
            running = Run.objects.filter(
                pk=self.run.pk, token=self.token, status=Run.Status.RUNNING
            ).update(**fields)
            if not running and not Run.objects.filter(pk=self.run.pk, token=self.token).exists():
                raise Displaced(f"run {self.run.pk} was taken over; this pass's writes refused")
            self._write_finished()
            yield bool(running)

    def _write_finished(self) -> None:
        while self._finished:
            pk, fields = self._finished.pop(0)
            StepRun.objects.filter(pk=pk).update(**fields)

    def abort(self, message: str) -> None:
        """Fail the run outside the normal path, touching as little as possible."""
        if not connection.is_usable():
            connection.close()  # a broken connection is replaced on the next query
        cause = f"The run stopped: {message}"
        try:
            with self.fenced() if self.token is not None else transaction.atomic():
                ours = Run.objects.filter(pk=self.run.pk, status__in=Run.OPEN).update(
                    status=Run.Status.FAILED,
                    finished_at=timezone.now(),
                    error=cause[:LOG_LIMIT],
                    message=_short(cause),
                )
                StepRun.objects.filter(run_id=self.run.pk, status__in=UNFINISHED).update(
                    status=StepRun.Status.SKIPPED
                )
                if ours:
                    _run_failed(self.run, cause)
        except Displaced:
            pass  # the run's new holder speaks for it

    def go(self) -> float | None:
        self.tenant = self.run.tenant
        classes = step_classes()
        if self.run.action == Run.Action.DESTROY:
            classes = list(reversed(classes))
        names = [cls.name for cls in classes]
        if not self._claim(names):
            return 0  # finished or cancelled meanwhile: look at the next run, if any
        spec = spec_for(self.tenant, read=self.run)
        secrets = drivers.secret_store(spec)
        rows = self._step_rows(names)
        shared: dict = {}  # what the pass's steps learn of the outside, for those after them
        if self.is_drift:
            # The Kubernetes steps read the scan's cluster-wide lists, if taken since the
            # check was asked for (what changed before it is seen).
            shared["drift scan"] = self.run.created_at.timestamp()
        for cls in classes:
            row = rows[cls.name]
            if row.is_done:
                continue
            ctx = StepContext(spec=spec, secrets=secrets, log=self._logger(row), shared=shared)
            wait = self._run_step(cls(ctx), row)
            if wait is not None:
                return wait
            if self.run.status == Run.Status.FAILED:
                return self._next_run_delay()
        self._succeed()
        return self._next_run_delay()

    # --- the run --------------------------------------------------------------------------------

    def _claim(self, names: list[str]) -> bool:
        # Under the tenant's lease, a run still marked running was left by a dead worker (or
        # one whose lease ran out): it may be taken over, and the new token fences the old
        # holder out. One conditional UPDATE: its row lock waits for any write of that holder
        # still in flight, and it claims only the run as it was read (token and all).
        run = self.run
        self.first_start = run.status == Run.Status.PENDING
        claim = {
            "status": Run.Status.RUNNING,
            "image_fingerprint": tenantimage.fingerprint(),
            "started_at": run.started_at or timezone.now(),
            "not_before": None,
            "holder": self.holder,
            "token": run.token + 1,
            "message": "started" if self.first_start else "picked up again",
        }
        # Due by the database's clock now, too: the pass may have read the run as it was
        # before a pause that released the lease for it (provisioning.passread).
        due = Q(not_before__isnull=True) | Q(not_before__lte=Now())
        mine = Run.objects.filter(due, pk=run.pk, status__in=Run.OPEN, token=run.token)
        if self.first_start:
            # A run's start, its step rows and its first step's start are one transaction,
            # fenced by the claim's own UPDATE (issue 14: one write, not three).
            with transaction.atomic():
                if not mine.update(heartbeat_at=Now(), **claim):
                    return False
                self._on_start(names)
        else:
            # A later pass: the claim and the read of the step rows, one statement.
            rows = steps_claiming(
                run_id=run.pk, claim=mine, fields={"heartbeat_at": Now(), **claim}
            )
            if rows is None:
                return False
            self._rows = rows
        for field, value in claim.items():
            setattr(run, field, value)
        self.token = run.token
        return True

    def _on_start(self, names: list[str]) -> None:
        cleared = {"last_error": ""}  # written with the state when that changes
        # A repair of a serving tenant leaves it serving (ready) while it runs.
        if self.run.action == Run.Action.APPLY and self.run.reason not in REPAIRS:
            if tenant_transition(tenant_id=self.tenant.pk, to=State.PROVISIONING, **cleared):
                cleared = {}
                audit_record(
                    action=Action.TENANT_PROVISIONING,
                    obj=self.tenant,
                    message=f"Run #{self.run.number} started ({self.run.reason}).",
                )
        elif self.run.action == Run.Action.DESTROY:
            if tenant_transition(
                tenant_id=self.tenant.pk, to=State.DELETING, only_from=[State.FAILED], **cleared
            ):
                cleared = {}
        if cleared and self.tenant.last_error:
            Tenant.objects.filter(pk=self.tenant.pk).update(**cleared)
        # A run's first pass: no step has a row yet; they are made with the start, the first
        # step's attempt already counted, as every start is before the outside calls it guards.
        rows = [StepRun(run=self.run, name=name, position=i) for i, name in enumerate(names)]
        if rows:
            first = rows[0]
            first.status, first.attempts = StepRun.Status.RUNNING, 1
            first.started_at = timezone.now()
        self._rows = StepRun.objects.bulk_create(rows)
        self._begun = rows[0].pk if rows else None

    def _lease_kept(self) -> bool:
        """Between steps, renew the tenant's lease once a third of it has passed since it was
        last renewed here (a step's heartbeat renews it while the step runs); False if it was
        taken over. A pass of quick steps asks nothing: their fenced writes refuse a takeover."""
        if time.monotonic() - self._renewed < settings.PORTAL_TENANT_LOCK_TTL / 3:
            return True
        self._renewed = time.monotonic()
        return lock_renew(tenant_id=self.tenant.pk, holder=self.holder)

    def _step_rows(self, names: list[str]) -> dict[str, StepRun]:
        made = getattr(self, "_rows", None)  # made by the start (ids returned), read by the claim
        if made is not None and all(row.pk for row in made):
            existing = {row.name: row for row in made}
        else:
            existing = {row.name: row for row in self.run.steps.all()}
        missing = [
            StepRun(run=self.run, name=name, position=i)
            for i, name in enumerate(names)
            if name not in existing
        ]
        if missing:
            with self.fenced():
                StepRun.objects.bulk_create(missing, ignore_conflicts=True)
            existing = {row.name: row for row in self.run.steps.all()}
        return existing

    def _next_run_delay(self) -> float | None:
        """The pass's end: whether another run waits, asked with the lease's release."""
        if not combined():
            return _open_runs_delay(self.tenant.pk)
        with prefixed([release_clause(tenant_id=self.tenant.pk, holder=self.holder)]):
            delay = _open_runs_delay(self.tenant.pk)
        self.released = True
        return delay

    def _succeed(self) -> None:
        now = timezone.now()
        done = {"finished_at": now, "drift": self.run.drift, "message": "done"}
        with self.fenced_run(status=Run.Status.SUCCEEDED, **done):
            if self.run.action == Run.Action.DESTROY:
                if tenant_transition(tenant_id=self.tenant.pk, to=State.DELETED):
                    # Auditors read what went, on the tenant's page and in the trail.
                    report = teardown.teardown_report(self.run)
                    audit_record(
                        action=Action.TENANT_DELETED, obj=self.tenant, after={"removed": report}
                    )
            elif self.run.action == Run.Action.APPLY:
                if tenant_transition(
                    tenant_id=self.tenant.pk,
                    to=State.READY,
                    only_from=[State.PROVISIONING, State.FAILED],
                ):
                    audit_record(
                        action=Action.TENANT_READY,
                        obj=self.tenant,
                        message=f"Run #{self.run.number} finished.",
                    )
                    tenant_id = self.tenant.pk
                    notifications.queue_notice("ready", tenant_id)
                    clone.after_ready(self.tenant)  # a new clone gets its content
                    recreate.after_ready(self.tenant)  # a recreated tenant its backup
            if self.is_drift and self.run.drift:
                audit_record(
                    action=Action.TENANT_DRIFT,
                    obj=self.tenant,
                    after={"differences": self.run.drift},
                    message="Repaired." if self.run.action == Run.Action.APPLY else "Reported.",
                )

    def _fail(self, row: StepRun, message: str, outage: str = "") -> None:
        now = timezone.now()
        cause = f"The {row.name} step failed: {message}"
        self.run.outage = outage
        with self.fenced():
            StepRun.objects.filter(pk=row.pk).update(
                status=StepRun.Status.FAILED,
                error=message[:LOG_LIMIT],
                finished_at=now,
                log=row.log,
            )
            self.run.steps.filter(status=StepRun.Status.PENDING).update(
                status=StepRun.Status.SKIPPED
            )
            ours = Run.objects.filter(pk=self.run.pk, status=Run.Status.RUNNING).update(
                status=Run.Status.FAILED,
                finished_at=now,
                error=cause[:LOG_LIMIT],
                message=_short(f"waiting for {outage}: {cause}" if outage else cause),
                outage=outage,
            )
            self.run.status = Run.Status.FAILED
            # A run superseded meanwhile (a deletion) no longer speaks for the tenant.
            if ours and _run_failed(self.run, cause):
                upgrade.after_failed_run(self.run, cause)  # a failed upgrade is rolled back
        log.warning("tenant %s run %s: %s", self.tenant.slug, self.run.pk, cause)

    # --- one step -------------------------------------------------------------------------------

    def _logger(self, row: StepRun):
        def write(message: str) -> None:
            stamp = timezone.now().strftime("%H:%M:%S")
            row.log = (row.log + f"{stamp} {message}\n")[-LOG_LIMIT:]
            # The same line in the worker's log, with the tenant and run (portal.logs); the
            # step log holds no secret (tests/provisioning/test_secrets_stay_out.py).
            log.info("step %s: %s", row.name, message)
            if time.monotonic() - getattr(row, "log_flushed", 0.0) >= LOG_FLUSH_SECONDS:
                row.log_flushed = time.monotonic()
                line = [(row.pk, {"log": row.log})]
                if not steps_update(run_id=self.run.pk, token=self.token, updates=line):
                    with self.fenced():  # taken over: raises; superseded: still written
                        StepRun.objects.filter(pk=row.pk).update(log=row.log)

        return write

    def _run_step(self, step: Step, row: StepRun) -> float | None:
        """Run one step; returns a delay when the run must pause, else None."""
        if row.pk == self._begun:
            self._begun = None  # started with the run: nothing to write yet
        else:
            cut_off = row.status == StepRun.Status.RUNNING
            if cut_off and row.attempts >= settings.PORTAL_STEP_MAX_RETRIES:
                # Each attempt is counted before it starts, so one cut off (the worker killed,
                # the task's hard time limit) counts too: a step that always dies ends the run.
                self._fail(
                    row,
                    f"cut off {row.attempts} times before it finished (the worker died or the "
                    f"step ran past the task's hard time limit of "
                    f"{settings.CELERY_TASK_TIME_LIMIT} s)",
                )
                return None
            if not self._lease_kept() or not self._start(row):
                return 0  # taken over, or superseded (a deletion): the run replacing it goes on
        row.log_flushed = time.monotonic()  # its lines reach the row within LOG_FLUSH_SECONDS
        try:
            with (
                Heartbeat(tenant_id=self.tenant.pk, holder=self.holder, run_id=self.run.pk),
                waits_reported_to(lambda text: self._tell(row, text)),
            ):
                outcome = self._do(step, row)
        except Displaced:
            raise
        except TransientError as exc:
            return self._transient(row, str(exc) or exc.__class__.__name__, exc)
        except SoftTimeLimitExceeded:
            return self._transient(row, "the step ran past the task's time limit")
        except StepFailed as exc:
            self._fail(row, str(exc))
            return None
        except Exception as exc:
            # A bug, not the outside world: stop and say so rather than retry forever.
            log.exception("step %s of tenant %s crashed", row.name, self.tenant.slug)
            self._fail(row, f"internal error ({exc.__class__.__name__}); see the worker log.")
            return None
        if outcome.status == Outcome.WAITING:
            return self._waiting(row, outcome.message, outcome.look_in)
        status = {
            "unchanged": StepRun.Status.UNCHANGED,
            Outcome.DONE: StepRun.Status.CHANGED,
            Outcome.PLANNED: StepRun.Status.PLANNED,
        }[outcome.status]
        self._finished.append(
            (
                row.pk,
                {
                    "status": status,
                    "finished_at": timezone.now(),
                    "error": "",
                    "waiting_since": None,
                    "log": row.log,
                    "checks": row.checks,
                },
            )
        )
        row.status = status
        log.info("step %s %s", row.name, status)
        return None

    def _start(self, row: StepRun) -> bool:
        """Count the step's attempt before its outside calls, in one fenced statement with the
        outcome of the step before it (no transaction of its own); False if the run is no
        longer running under our token."""
        row.attempts += 1
        row.status = StepRun.Status.RUNNING
        row.started_at = row.started_at or timezone.now()
        start = {"status": row.status, "attempts": row.attempts, "started_at": row.started_at}
        updates = [*self._finished, (row.pk, start)]
        if steps_update(run_id=self.run.pk, token=self.token, updates=updates):
            self._finished.clear()
            return True
        # Taken over (fenced() raises Displaced), or superseded by a deletion: the steps it
        # finished are still written as they ended.
        with self.fenced():
            pass
        return False

    def _do(self, step: Step, row: StepRun) -> Outcome:
        write = self._logger(row)
        if self.run.action == Run.Action.DESTROY:
            outcome = step.destroy()
            if outcome.message:
                write(outcome.message)
            if outcome.status == Outcome.DONE:
                outcome = self._looked_up(step, row, outcome)
            return outcome
        if row.waiting_since is not None and self.run.action == Run.Action.APPLY:
            # It was applied and is settling: only the step can tell when it has settled, since
            # check() compares the spec, and the spec may match long before it is ready.
            settle = getattr(step, "settle", step.apply)  # a step of its own kind may lack one
            outcome = settle()
            if outcome.message and outcome.status != Outcome.WAITING:
                write(outcome.message)
            return outcome
        differences = step.check()
        if not differences:
            write("already matches")
            return Outcome("unchanged")
        for difference in differences:
            write(f"differs: {difference}")
        if self.is_drift:
            self.run.drift = [*self.run.drift, *(f"{row.name}: {d}" for d in differences)]
            with self.fenced():
                Run.objects.filter(pk=self.run.pk).update(drift=self.run.drift)
        if self.run.action == Run.Action.CHECK:
            return Outcome("unchanged")
        outcome = step.apply()
        if outcome.message:
            write(outcome.message)
        return outcome

    def _looked_up(self, step: Step, row: StepRun, outcome: Outcome) -> Outcome:
        """A destroy counts once a look-up afterwards finds nothing left of what it removed
        (the teardown report shows each look-up's result); what outlived it is waited for,
        the destroy tried again, until PORTAL_WAIT_TIMEOUT fails the step."""
        looked = step.gone()
        left = [item for item in looked if item.still_there]
        if left:
            found = "; ".join(f"{item.what} ({item.found})" for item in left)
            return Outcome.waiting(f"still there after the removal: {found}")
        write = self._logger(row)
        for item in looked:
            write(f"{item.what}: {item.result}")
        row.checks = [item.as_dict() for item in looked]
        return outcome

    def _transient(self, row: StepRun, message: str, exc: Exception | None = None) -> float | None:
        # An outage is ridden out for a time, not a count of tries: PORTAL_STEP_RETRY_BUDGET
        # from the step's first passing error in this run, however long the backoff grew.
        now = timezone.now()
        since = row.failing_since or now
        spent = (now - since).total_seconds()
        if spent >= settings.PORTAL_STEP_RETRY_BUDGET:
            minutes = f"{spent / 60:.0f} minutes" if spent >= 90 else f"{spent:.0f} s"
            # An outside system that is away (not an object that vanished, not a lock) is
            # waited for: the tenant isn't failed, the sweep tries again later.
            system = exc.system if isinstance(exc, Unavailable) else ""
            given_up = f"{message} (gave up after {row.attempts} attempts over {minutes})"
            self._fail(row, given_up, outage=system)
            return None
        delay = backoff(row.attempts)
        waiting_for = ""
        if isinstance(exc, Unavailable):
            delay = max(delay, exc.retry_after or 0)  # not before the system asked us to
            waiting_for = f"waiting for {exc.system}, "
        self._logger(row)(f"attempt {row.attempts} hit a passing error: {message}")
        until = timezone.now() + timedelta(seconds=delay)
        text = f"{row.name}: {waiting_for}trying again at {until:%H:%M:%S} after: {message}"
        step = {"status": StepRun.Status.RETRYING, "error": message, "failing_since": since}
        if not self._pause(row, step, text, delay):
            return 0  # superseded meanwhile: go on with the run that replaced it
        return delay

    def _waiting(self, row: StepRun, message: str, look_in: float | None = None) -> float | None:
        now = timezone.now()
        since = row.waiting_since or now
        if now - since > timedelta(seconds=settings.PORTAL_WAIT_TIMEOUT):
            self._fail(
                row,
                f"gave up after waiting {settings.PORTAL_WAIT_TIMEOUT} seconds: {message}",
            )
            return None
        # Something new to wait for (the update-db Job once the rollout is done) is looked at
        # soon again, not after half of what the step has waited for the thing before it.
        fresh = row.waiting_since is None or not row.log.endswith(f"{message}\n")
        if fresh:
            self._logger(row)(message)
        # A wait is not a failed attempt: don't let it count towards the retry limit.
        step = {
            "status": StepRun.Status.WAITING,
            "waiting_since": since,
            "attempts": row.attempts - 1,
        }
        delay = wait_delay(0 if fresh else (now - since).total_seconds(), look_in)
        if not self._pause(row, step, f"{row.name}: {message}", delay):
            return 0  # superseded meanwhile: go on with the run that replaced it
        return delay

    def _tell(self, row: StepRun, text: str) -> None:
        """A driver pauses for an outside system (the request retries): the run says so."""
        with self.fenced():
            self._say(f"{row.name}: {text}")

    def _say(self, text: str) -> None:
        """The run's one live line: what it is doing now, overwritten (inside a fenced write)."""
        Run.objects.filter(pk=self.run.pk).update(message=_short(text))

    def _pause(self, row: StepRun, step: dict, text: str, delay: float) -> bool:
        """Park the run for `delay` seconds (on the database's clock, which reconcile() reads
        it by), saying why, and the step as `step` says; False if it is no longer running (a
        deletion cancelled it, and a cancelled run must stay cancelled, not come back to build).

        One fenced statement with the lease's release (issue 14; provisioning.stepwrites)."""
        step = {"log": row.log, **step}
        if steps_park(
            run_id=self.run.pk,
            token=self.token,
            updates=[*self._finished, (row.pk, step)],
            delay=delay,
            message=_short(text),
            tenant_id=self.tenant.pk,
            holder=self.holder,
        ):
            self._finished.clear()
            self.released = True  # the pass is over: nothing of it is left to write
            return True
        # Taken over (fenced() raises Displaced), or superseded by a deletion meanwhile: the
        # cancelled run still says why it stopped where it did.
        with self.fenced():
            self._say(text)
            StepRun.objects.filter(pk=row.pk).update(**step)
        return False
