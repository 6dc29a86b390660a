"""The engine's rules, driven directly: waiting, timeouts, crashes, locks, cancellation."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Q
from django.db.models.functions import Now
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from provisioning import engine, runs
from provisioning.errors import LockHeld, TransientError
from provisioning.locks import lock_acquire
from provisioning.models import Run, StepRun
from provisioning.steps.base import Outcome, Step
from tenants import services
from tenants.models import Tenant
from tests.factories import TenantFactory

# What the scripted steps below do next, per step name: a list of outcomes or exceptions.
SCRIPT: dict[str, list] = {}
REMOVED: set[str] = set()


class ScriptedStep(Step):
    """Follows SCRIPT; an empty script means the resource matches and exists."""

    plan_suffix = "txt"

    def make_driver(self):
        return self  # "configured": never plan mode

    def _next(self):
        queue = SCRIPT.get(self.name, [])
        item = queue.pop(0) if queue else None
        if isinstance(item, Exception):
            raise item
        return item

    def live_check(self) -> list[str]:
        return ["missing"] if SCRIPT.get(self.name) else []

    def live_apply(self) -> Outcome:
        return self._next() or Outcome.done("made")

    def live_destroy(self) -> Outcome:
        outcome = self._next() or Outcome.done("removed")
        if outcome.status == Outcome.DONE:
            REMOVED.add(self.name)
        return outcome


class FirstStep(ScriptedStep):
    name = "first"


class SecondStep(ScriptedStep):
    name = "second"


@pytest.fixture(autouse=True)
def scripted(settings):
    settings.PORTAL_STEPS = [f"{__name__}.FirstStep", f"{__name__}.SecondStep"]
    settings.PORTAL_WAIT_INTERVAL = 7
    settings.PORTAL_WAIT_FIRST = 7  # every pause the same, for these tests; test_wait_delay's vary
    SCRIPT.clear()
    REMOVED.clear()
    yield
    SCRIPT.clear()


@pytest.fixture
def approved(requester, approver, django_capture_on_commit_callbacks):
    tenant = TenantFactory(owner=requester)
    with django_capture_on_commit_callbacks(execute=False):  # no worker: we drive the engine
        services.tenant_approve(tenant_id=tenant.pk, actor=approver)
    return tenant


def _step(tenant, name) -> StepRun:
    return StepRun.objects.get(run__tenant=tenant, run__status__in=Run.OPEN, name=name)


def _due_now(tenant) -> None:
    Run.objects.filter(tenant=tenant).update(not_before=timezone.now() - timedelta(seconds=1))


def test_approval_queues_the_run_only_when_the_decision_commits(
    requester, approver, django_capture_on_commit_callbacks, eager_celery
):
    tenant = TenantFactory(owner=requester)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.tenant_approve(tenant_id=tenant.pk, actor=approver)
        tenant.refresh_from_db()
        assert tenant.state == Tenant.State.APPROVED  # nothing ran inside the transaction
        assert tenant.runs.get().status == Run.Status.PENDING
    assert callbacks, "the task is queued on commit"
    for callback in callbacks:
        callback()
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY


@pytest.mark.parametrize("skew", [timedelta(hours=1), -timedelta(hours=1)])
def test_a_paused_run_is_due_by_the_database_s_clock_not_the_host_s(approved, monkeypatch, skew):
    # The host's clock runs an hour ahead of (or behind) PostgreSQL's, as a worker's may.
    host_now = timezone.now
    monkeypatch.setattr(timezone, "now", lambda: host_now() + skew)
    SCRIPT["second"] = [Outcome.waiting("rollout 0 of 1"), Outcome.done("made")]
    assert engine.reconcile(approved.pk) == 7.0
    # Parked for its 7 s on the database's clock, not for 7 s of the host's.
    soon = Q(
        not_before__gt=Now() + timedelta(seconds=5), not_before__lte=Now() + timedelta(seconds=7)
    )
    assert Run.objects.filter(soon, tenant=approved).exists()

    Run.objects.filter(tenant=approved).update(not_before=Now() + timedelta(seconds=60))
    waited = engine.reconcile(approved.pk)
    assert waited is not None and 55 < waited <= 60, "a run not due yet was started"
    assert len(SCRIPT["second"]) == 1

    Run.objects.filter(tenant=approved).update(not_before=Now() - timedelta(seconds=1))
    assert engine.reconcile(approved.pk) is None, "a run already due was left parked"
    assert approved.runs.get().status == Run.Status.SUCCEEDED


def test_a_waiting_step_pauses_the_run_without_counting_an_attempt(approved):
    SCRIPT["second"] = [Outcome.waiting("rollout 0 of 1 pods"), Outcome.waiting("rollout 0 of 1")]
    assert engine.reconcile(approved.pk) == 7.0
    step = _step(approved, "second")
    assert step.status == StepRun.Status.WAITING and step.attempts == 0
    assert "rollout 0 of 1 pods" in step.log
    run = approved.runs.get()
    assert run.status == Run.Status.WAITING and run.not_before > timezone.now()

    # Looked at again too early, nothing runs: it says how long to wait.
    assert 0 < engine.reconcile(approved.pk) <= 7.0
    assert len(SCRIPT["second"]) == 1

    _due_now(approved)
    assert engine.reconcile(approved.pk) == 7.0  # second wait
    _due_now(approved)
    assert engine.reconcile(approved.pk) is None
    approved.refresh_from_db()
    assert approved.state == Tenant.State.READY
    done = approved.runs.get().steps.get(name="second")
    assert done.status == StepRun.Status.CHANGED and done.attempts == 1


def test_waiting_too_long_fails_in_words(approved, settings):
    settings.PORTAL_WAIT_TIMEOUT = 60
    SCRIPT["first"] = [Outcome.waiting("namespace still terminating")] * 2
    engine.reconcile(approved.pk)
    StepRun.objects.filter(name="first").update(
        waiting_since=timezone.now() - timedelta(seconds=61)
    )
    _due_now(approved)
    assert engine.reconcile(approved.pk) is None
    approved.refresh_from_db()
    assert approved.state == Tenant.State.FAILED
    assert approved.last_error == (
        "The first step failed: gave up after waiting 60 seconds: namespace still terminating"
    )


def test_transient_errors_past_the_time_budget_fail_the_run(approved, settings):
    settings.PORTAL_STEP_RETRY_BUDGET = 600
    SCRIPT["first"] = [TransientError("API answered 503")] * 12
    for _ in range(10):  # ten tries within the budget: still retrying, however many
        _due_now(approved)
        engine.reconcile(approved.pk)
    step = _step(approved, "first")
    assert step.status == StepRun.Status.RETRYING and step.attempts == 10
    StepRun.objects.filter(pk=step.pk).update(failing_since=timezone.now() - timedelta(seconds=601))
    _due_now(approved)
    engine.reconcile(approved.pk)
    approved.refresh_from_db()
    assert approved.state == Tenant.State.FAILED
    assert approved.last_error == (
        "The first step failed: API answered 503 (gave up after 11 attempts over 10 minutes)"
    )
    assert approved.runs.get().steps.get(name="second").status == StepRun.Status.SKIPPED


def test_a_bug_in_a_step_fails_the_run_without_leaking_details(approved):
    SCRIPT["first"] = [KeyError("password=hunter2")]
    assert engine.reconcile(approved.pk) is None
    approved.refresh_from_db()
    assert approved.state == Tenant.State.FAILED
    assert approved.last_error == (
        "The first step failed: internal error (KeyError); see the worker log."
    )
    assert "hunter2" not in approved.runs.get().error


def test_a_tenant_held_by_another_worker_is_not_touched(approved):
    assert lock_acquire(tenant_id=approved.pk, holder="another-worker")
    with pytest.raises(LockHeld):
        engine.reconcile(approved.pk)
    assert approved.runs.get().status == Run.Status.PENDING


def test_deletion_supersedes_provisioning_and_waits_until_everything_is_gone(
    approved, approver, django_capture_on_commit_callbacks
):
    SCRIPT["second"] = [Outcome.waiting("rollout")]
    engine.reconcile(approved.pk)
    approved.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=False):
        services.tenant_delete(tenant=approved, actor=approver)
    assert approved.runs.get(action=runs.APPLY).status == Run.Status.CANCELLED

    SCRIPT["first"] = [Outcome.waiting("namespace terminating")]
    assert engine.reconcile(approved.pk) == 7.0
    approved.refresh_from_db()
    assert approved.state == Tenant.State.DELETING
    assert REMOVED == {"second"}  # teardown walks backwards and stops at the wait

    _due_now(approved)
    assert engine.reconcile(approved.pk) is None
    approved.refresh_from_db()
    assert approved.state == Tenant.State.DELETED
    assert REMOVED == {"first", "second"}


def test_the_first_look_comes_soon_and_the_pauses_grow_with_the_wait(approved, settings):
    settings.PORTAL_WAIT_FIRST, settings.PORTAL_WAIT_INTERVAL = 1, 10
    SCRIPT["first"] = [Outcome.waiting("rollout 0 of 1")] * 3
    assert engine.reconcile(approved.pk) == 1.0  # just applied: look again in a second
    for waited, pause in ((8, 4.0), (60, 10.0)):
        StepRun.objects.filter(run__tenant=approved, name="first").update(
            waiting_since=timezone.now() - timedelta(seconds=waited)
        )
        _due_now(approved)
        assert engine.reconcile(approved.pk) == pytest.approx(pause, abs=0.1)


def test_something_new_to_wait_for_is_looked_at_soon_whatever_the_step_waited(approved, settings):
    settings.PORTAL_WAIT_FIRST, settings.PORTAL_WAIT_INTERVAL = 1, 10
    SCRIPT["first"] = [Outcome.waiting("rollout 0 of 1")] * 2 + [Outcome.waiting("Job running")]
    engine.reconcile(approved.pk)
    step = StepRun.objects.filter(run__tenant=approved, name="first")
    step.update(waiting_since=timezone.now() - timedelta(seconds=8))
    _due_now(approved)
    assert engine.reconcile(approved.pk) == pytest.approx(4.0, abs=0.1)  # the same rollout
    _due_now(approved)
    assert engine.reconcile(approved.pk) == 1.0  # the Job the rollout's end started
    assert step.get().waiting_since < timezone.now() - timedelta(seconds=7)  # timeout: the step's


@pytest.mark.parametrize(("look_in", "pause"), [(0.0, 0.25), (0.5, 0.5), (30.0, 1.0)])
def test_something_started_whose_like_was_quick_is_first_looked_at_sooner(
    approved, settings, look_in, pause
):
    settings.PORTAL_WAIT_FIRST, settings.PORTAL_WAIT_INTERVAL = 1, 10
    SCRIPT["first"] = [Outcome.waiting("Job running", look_in=look_in)] * 2
    assert engine.reconcile(approved.pk) == pause  # a quarter of PORTAL_WAIT_FIRST soonest
    StepRun.objects.filter(run__tenant=approved, name="first").update(
        waiting_since=timezone.now() - timedelta(seconds=8)
    )
    _due_now(approved)
    assert engine.reconcile(approved.pk) == pytest.approx(4.0, abs=0.1)  # then the usual pace


def test_an_outage_past_the_budget_leaves_the_tenant_waiting_and_the_sweep_tries_again(
    approved, settings, django_capture_on_commit_callbacks
):
    from provisioning import sweeps
    from provisioning.errors import Unavailable

    settings.PORTAL_STEP_RETRY_BUDGET = 0  # the first passing error spends it
    settings.PORTAL_OUTAGE_RETRY_DELAY = 600
    SCRIPT["first"] = [Unavailable("Authentik answered 503", system="Authentik")]
    engine.reconcile(approved.pk)
    run = approved.runs.get()
    assert run.status == Run.Status.FAILED and run.outage == "Authentik"
    assert run.message.startswith("waiting for Authentik: The first step failed: ")
    approved.refresh_from_db()
    assert approved.state == Tenant.State.PROVISIONING  # not failed: waiting
    assert approved.last_error.startswith(
        "Waiting for Authentik; the portal tries again by itself. The first step failed: "
        "Authentik answered 503 (gave up after 1 attempts over 0 s)"
    )

    with django_capture_on_commit_callbacks(execute=False):
        assert sweeps.retry_after_outages() == []  # not yet: ten minutes first
        Run.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(seconds=601))
        assert sweeps.retry_after_outages() == [approved.pk]
        assert sweeps.retry_after_outages() == []  # its new run is open
        assert engine.reconcile(approved.pk) is None  # Authentik is back
    again = approved.runs.order_by("-id").first()
    assert again.reason == "outage retry" and again.status == Run.Status.SUCCEEDED
    approved.refresh_from_db()
    assert approved.state == Tenant.State.READY and approved.last_error == ""


def test_a_step_s_outcome_is_written_with_the_next_step_s_start(approved):
    """Issue 14: one fenced transaction per step boundary, not one per write."""
    SCRIPT["first"] = [Outcome.done("first made")]
    SCRIPT["second"] = [Outcome.done("second made")]
    with CaptureQueriesContext(connection) as ran:
        assert engine.reconcile(approved.pk) is None
    # (Inside a test every transaction is a savepoint.) Two transactions: the start (the
    # claim, its audit event, the step rows with the first step started) and the end with
    # its audit event; the second step's start, with the first's outcome, is one statement.
    assert len([q for q in ran if q["sql"].startswith("SAVEPOINT")]) == 2
    together = [q for q in ran if q["sql"].startswith('UPDATE "provisioning_steprun"')]
    assert len(together) == 2  # the second's start with the first's outcome; the second's
    assert len(ran) <= 23  # 45 before the step starts became single statements
    first, second = approved.runs.get().steps.order_by("position")
    assert first.status == second.status == StepRun.Status.CHANGED
    assert "first made" in first.log and "second made" in second.log
    assert first.finished_at <= second.started_at
