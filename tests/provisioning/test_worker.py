"""The engine under real Celery workers on Redis and PostgreSQL: crashes, retries, overlap."""

import os
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command

from provisioning import runs
from provisioning.models import Run, StepRun
from tenants import services
from tenants.models import Tenant
from tests.provisioning.conftest import STEPS, approved_tenant, wait_state
from tests.provisioning.probe import ledger
from tests.workers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _steps(run: Run) -> dict[str, StepRun]:
    return {step.name: step for step in run.steps.all()}


def test_approved_tenant_becomes_ready_with_every_step_done(requester, approver, workers):
    workers("w1")
    tenant = approved_tenant(requester, approver)
    wait_state(tenant, {Tenant.State.READY}, workers)

    run = tenant.runs.get()
    assert run.status == Run.Status.SUCCEEDED and run.reason == "approved"
    steps = _steps(run)
    assert list(steps) == [path.rsplit(".", 1)[1].removesuffix("Step").lower() for path in STEPS]
    assert all(step.is_done for step in steps.values()), steps
    assert steps["probe"].status == StepRun.Status.CHANGED
    assert len(ledger("creates")) == 1


def test_second_reconcile_of_a_ready_tenant_writes_nothing(requester, approver, workers):
    workers("w1")
    tenant = approved_tenant(requester, approver)
    wait_state(tenant, {Tenant.State.READY}, workers)
    plan_files = {p: p.read_text() for p in (settings.PORTAL_PLAN_DIR).rglob("*") if p.is_file()}

    services.tenant_reconcile(tenant=tenant, actor=approver)
    wait_until(
        lambda: tenant.runs.filter(status=Run.Status.SUCCEEDED).count() == 2,
        60,
        "the second run",
        workers.logs,
    )
    second = tenant.runs.order_by("-id").first()
    assert {s.status for s in second.steps.all()} == {StepRun.Status.UNCHANGED}
    assert len(ledger("creates")) == 1
    assert plan_files == {
        p: p.read_text() for p in (settings.PORTAL_PLAN_DIR).rglob("*") if p.is_file()
    }


def test_worker_killed_mid_step_leaves_a_tenant_the_next_worker_finishes(
    requester, approver, workers, probe
):
    probe(hold=60)  # the probe's apply creates its resource, then hangs like a slow API call
    first = workers("w1")
    tenant = approved_tenant(requester, approver)
    wait_until(lambda: ledger("holding"), 60, "the probe step to be running", workers.logs)
    first.kill()
    probe()  # the slow outside call is gone with the worker

    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.PROVISIONING
    assert _steps(tenant.runs.get())["probe"].status == StepRun.Status.RUNNING

    workers("w2")
    wait_state(tenant, {Tenant.State.READY}, workers, timeout=90)
    run = tenant.runs.get()
    assert run.status == Run.Status.SUCCEEDED
    assert all(step.is_done for step in run.steps.all())
    # The resource created before the crash was found, not created again.
    assert len(ledger("creates")) == 1
    assert _steps(run)["probe"].status == StepRun.Status.UNCHANGED


def test_transient_errors_are_retried_and_recorded(requester, approver, workers, probe):
    probe(transient=2)
    workers("w1")
    tenant = approved_tenant(requester, approver)
    wait_state(tenant, {Tenant.State.READY}, workers)
    step = _steps(tenant.runs.get())["probe"]
    assert step.status == StepRun.Status.CHANGED
    assert step.attempts == 3
    assert step.log.count("passing error: the probe service answered 503") == 2


def test_permanent_error_fails_naming_step_and_cause_and_retry_finishes(
    requester, approver, workers, probe
):
    probe(fail="the probe quota is exhausted")
    workers("w1")
    tenant = approved_tenant(requester, approver)
    wait_state(tenant, {Tenant.State.FAILED}, workers)
    assert tenant.last_error == "The probe step failed: the probe quota is exhausted"
    failed_run = tenant.runs.get()
    steps = _steps(failed_run)
    assert steps["probe"].status == StepRun.Status.FAILED
    assert steps["wordpress"].status == StepRun.Status.SKIPPED
    assert steps["network"].status == StepRun.Status.PLANNED  # isolation came first

    probe()  # the cause is fixed
    services.tenant_retry(tenant=tenant, actor=approver)
    wait_state(tenant, {Tenant.State.READY}, workers)
    retry_run = tenant.runs.order_by("-id").first()
    assert retry_run.reason == "retry"
    retry_steps = _steps(retry_run)
    assert retry_steps["probe"].status == StepRun.Status.CHANGED
    assert retry_steps["namespace"].status == StepRun.Status.UNCHANGED  # skipped what matched
    assert tenant.last_error == ""


def test_two_workers_never_reconcile_one_tenant_at_once(requester, approver, workers, probe):
    probe(delay=1)  # each apply takes a second before it writes, so overlapping runs would show
    workers("w1")
    workers("w2")
    tenant = approved_tenant(requester, approver)
    wait_state(tenant, {Tenant.State.READY}, workers)

    (probe.folder / f"{tenant.slug}.resource").write_text("drifted\n")
    for _ in range(2):  # two people ask at the same moment
        runs.run_request(tenant=tenant, action=runs.APPLY, reason="manual")
        Run.objects.create(tenant=tenant, action=runs.APPLY, reason="manual")
        runs.enqueue(tenant.pk)
    wait_until(
        lambda: not tenant.runs.filter(status__in=Run.OPEN).exists(), 90, "all runs", workers.logs
    )
    finished = list(tenant.runs.order_by("started_at"))
    assert all(run.status == Run.Status.SUCCEEDED for run in finished)
    for earlier, later in zip(finished, finished[1:], strict=False):
        assert earlier.finished_at <= later.started_at, "two runs overlapped"
    spans = ledger("spans")
    opened = 0
    for entry in spans:
        opened += 1 if entry["event"] == "start" else -1
        assert opened <= 1, f"the probe ran twice at once: {spans}"
    assert len({entry["pid"] for entry in spans}) >= 1


def test_a_step_held_past_the_lease_ttl_is_not_started_by_another_worker(
    requester, approver, workers, probe
):
    # The apply works 10 s before it creates anything, more than two of the heartbeat's
    # renewals (a third of the 14 s lease each); the time limits stay under the lease, or the
    # worker would refuse to start. A takeover would find the resource still missing and start
    # the apply a second time.
    probe(delay=10)
    clocks = {
        "PORTAL_TENANT_LOCK_TTL": "14",
        "PORTAL_TASK_TIME_LIMIT": "13",
        "PORTAL_TASK_SOFT_TIME_LIMIT": "12",
    }
    workers("w1", **clocks)
    workers("w2", **clocks)
    tenant = approved_tenant(requester, approver)
    wait_until(lambda: ledger("spans"), 60, "the probe step to be running", workers.logs)
    for _ in range(3):  # copies reach the idle worker while the step still runs
        runs.enqueue(tenant.pk)
    wait_state(tenant, {Tenant.State.READY}, workers, timeout=90)

    starts = [entry for entry in ledger("spans") if entry["event"] == "start"]
    assert len(starts) == 1, f"the probe was started again: {starts}"
    assert len(ledger("creates")) == 1
    run = tenant.runs.get()
    assert run.status == Run.Status.SUCCEEDED
    assert run.token == 1, "the run was claimed a second time"


def test_wait_follows_the_run_while_a_worker_does_it(requester, approver, workers):
    workers("w1")
    tenant = approved_tenant(requester, approver)
    wait_state(tenant, {Tenant.State.READY}, workers)

    out = StringIO()
    call_command("tenant_reconcile", tenant.slug, "--wait", stdout=out)

    run = tenant.runs.order_by("-id").first()
    assert run.reason == "manual" and run.status == Run.Status.SUCCEEDED
    assert run.holder.split(":")[1] != str(os.getpid()), "the command ran the engine itself"
    assert "  probe: Already in place" in out.getvalue()
    assert out.getvalue().rstrip().endswith(f"{tenant.slug}: Ready")


def test_a_hundred_copies_of_a_message_do_one_execution(requester, approver, workers, probe):
    probe(delay=1)  # the apply takes a second: copies arrive while it runs, and after it
    workers("w1")
    workers("w2")
    tenant = approved_tenant(requester, approver)
    run = tenant.runs.get()
    run.refresh_from_db()
    assert run.wakeup == 1  # the approval's message
    for _ in range(100):  # a broker that redelivers, a sweep that re-sent: the same message
        runs.send(tenant.pk, run.pk, run.wakeup)
    for _ in range(10):  # and copies older than it
        runs.send(tenant.pk, run.pk, 0)
    wait_state(tenant, {Tenant.State.READY}, workers, timeout=90)

    starts = [entry for entry in ledger("spans") if entry["event"] == "start"]
    assert len(starts) == 1, f"the probe ran more than once: {starts}"
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED
    assert run.token == 1, "the run was claimed more than once"


def test_messages_lost_by_the_broker_are_sent_again_by_the_sweep(
    requester, approver, workers, settings
):
    import redis

    settings.PORTAL_MESSAGE_GRACE = 0  # the test is the beat; any message overdue counts lost
    tenants = [approved_tenant(requester, approver) for _ in range(3)]  # queued, no worker yet
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    queue = settings.PORTAL_PROVISIONING_QUEUE
    # A Redis restart without persistence: this session's queue is gone (only ours: the
    # database is shared with other test sessions, so no FLUSHDB).
    lost = [key for key in broker.scan_iter(match=f"{queue}*")]
    assert lost and broker.delete(*lost)
    workers("w1")

    def all_ready():
        from provisioning import tasks

        tasks.reconcile_all()
        return all(
            t.state == Tenant.State.READY
            for t in Tenant.objects.filter(pk__in=[t.pk for t in tenants])
        )

    wait_until(all_ready, 60, "every approved tenant ready", workers.logs)
    for tenant in tenants:
        run = tenant.runs.get(reason="approved")  # (a drift check may follow; it is the sweep's)
        assert run.status == Run.Status.SUCCEEDED and run.token == 1
    assert len(ledger("creates")) == 3
