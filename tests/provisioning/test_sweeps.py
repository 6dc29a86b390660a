"""One live message per run, the run's one live line, and the minute sweep's end of stalled runs."""

from datetime import timedelta

from django.utils import timezone

from provisioning import engine, runs, sweeps, tasks
from provisioning.models import Run, StepRun
from tenants import services
from tenants.models import Tenant
from tests.factories import TenantFactory


def _approved(requester, approver, capture) -> Tenant:
    tenant = TenantFactory(owner=requester)
    with capture(execute=False):  # the test hands out the messages itself
        services.tenant_approve(tenant_id=tenant.pk, actor=approver)
    return tenant


def test_only_the_latest_message_of_a_run_acts(
    requester, approver, django_capture_on_commit_callbacks, eager_celery
):
    tenant = _approved(requester, approver, django_capture_on_commit_callbacks)
    run = tenant.runs.get()
    Run.objects.filter(pk=run.pk).update(wakeup=2)  # two messages were sent; the second is live

    tasks.reconcile_tenant(tenant.pk, run.pk, 1)  # the older copy drops itself
    run.refresh_from_db()
    assert run.status == Run.Status.PENDING and run.token == 0

    tasks.reconcile_tenant(tenant.pk, run.pk, 2)
    run.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED and run.token == 1
    for _ in range(100):  # duplicates of the live one, delivered late: the run is over
        tasks.reconcile_tenant(tenant.pk, run.pk, 2)
    run.refresh_from_db()
    assert run.token == 1, "a copy claimed the finished run again"
    assert set(run.steps.values_list("attempts", flat=True)) == {1}


def test_a_message_for_a_cancelled_run_does_not_drive_the_next_one(
    requester, approver, django_capture_on_commit_callbacks
):
    tenant = _approved(requester, approver, django_capture_on_commit_callbacks)
    first = tenant.runs.get()
    with django_capture_on_commit_callbacks(execute=False):
        runs.run_request(tenant=tenant, action=runs.DESTROY, reason="deleted")
    second = tenant.runs.get(action=runs.DESTROY)
    Run.objects.filter(pk=second.pk).update(wakeup=1)
    assert not runs.is_live(tenant.pk, first.pk, 1)  # same number, another run
    assert runs.is_live(tenant.pk, second.pk, 1)


def test_the_run_says_what_it_does_in_one_line(
    requester, approver, django_capture_on_commit_callbacks, settings
):
    settings.PORTAL_STEPS = ["tests.provisioning.test_sweeps.SettlingStep"]
    SettlingStep.looks = 0
    tenant = _approved(requester, approver, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False):
        assert engine.reconcile(tenant.pk) is not None
    run = tenant.runs.get()
    assert run.status == Run.Status.WAITING
    assert run.message == "settle: waiting for the rollout (0/1 ready)"
    Run.objects.filter(pk=run.pk).update(not_before=None)
    with django_capture_on_commit_callbacks(execute=False):
        assert engine.reconcile(tenant.pk) is None
    run.refresh_from_db()
    assert run.message == "done"  # overwritten, not appended


def _begun_long_ago(requester, approver, capture, settings) -> tuple[Tenant, Run]:
    """A run a worker claimed 11 minutes ago, with a stall timeout of 10."""
    settings.PORTAL_RUN_STALL_TIMEOUT = 600
    tenant = _approved(requester, approver, capture)
    run = tenant.runs.get()
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.RUNNING, heartbeat_at=timezone.now() - timedelta(minutes=11)
    )
    return tenant, run


def test_the_sweep_ends_a_run_no_worker_has_touched_for_too_long(
    requester, approver, django_capture_on_commit_callbacks, settings
):
    tenant, run = _begun_long_ago(requester, approver, django_capture_on_commit_callbacks, settings)
    # Its worker died; its lease ran out and nobody took the run up since.
    StepRun.objects.create(run=run, name="namespace", position=0, status=StepRun.Status.RUNNING)
    Tenant.objects.filter(pk=tenant.pk).update(
        state=Tenant.State.PROVISIONING,
        lock_holder="dead:1:x",
        lock_expires_at=timezone.now() - timedelta(minutes=11),
    )
    assert sweeps.end_stalled_runs() == [run.pk]

    run.refresh_from_db()
    assert run.status == Run.Status.FAILED
    assert run.error.startswith("The run stopped: stalled: no worker has worked on it since ")
    assert "(over 10 minutes); ask for a retry once the workers run again" in run.error
    assert run.message == run.error
    assert run.token == 1, "a worker coming back is fenced out"
    assert run.steps.get().status == StepRun.Status.SKIPPED
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.FAILED and tenant.last_error == run.error


def test_the_sweep_leaves_live_and_waiting_runs_alone(
    requester, approver, django_capture_on_commit_callbacks, settings
):
    tenant, run = _begun_long_ago(requester, approver, django_capture_on_commit_callbacks, settings)
    # Held by a worker whose heartbeat still renews the lease.
    Tenant.objects.filter(pk=tenant.pk).update(
        lock_holder="alive:1:x", lock_expires_at=timezone.now() + timedelta(minutes=5)
    )
    assert sweeps.end_stalled_runs() == []
    # Parked until a wake-up that isn't long past.
    Tenant.objects.filter(pk=tenant.pk).update(lock_holder="", lock_expires_at=None)
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.WAITING, not_before=timezone.now() - timedelta(minutes=1)
    )
    assert sweeps.end_stalled_runs() == []
    # Never started (no worker up yet): it waits for one, the sweep keeps re-sending it.
    Run.objects.filter(pk=run.pk).update(status=Run.Status.PENDING, heartbeat_at=None)
    assert sweeps.end_stalled_runs() == []
    assert tenant.runs.get().status == Run.Status.PENDING


def test_a_stalled_drift_run_leaves_the_tenant_ready(
    requester, django_capture_on_commit_callbacks, settings
):
    settings.PORTAL_RUN_STALL_TIMEOUT = 600
    tenant = TenantFactory(owner=requester, state=Tenant.State.READY)
    with django_capture_on_commit_callbacks(execute=False):
        run = runs.run_request(tenant=tenant, action=runs.APPLY, reason="drift")
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.RUNNING, heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    assert sweeps.end_stalled_runs() == [run.pk]
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY


def test_quiet_drift_runs_are_pruned_after_the_retention(requester, settings):
    settings.PORTAL_DRIFT_RETENTION_DAYS = 30
    tenant = TenantFactory(owner=requester, state=Tenant.State.READY)
    old = timezone.now() - timedelta(days=31)

    def drift_run(age, **fields) -> Run:
        run = Run.objects.create(tenant=tenant, action="apply", reason="drift", **fields)
        Run.objects.filter(pk=run.pk).update(created_at=age, finished_at=age)
        StepRun.objects.create(run=run, name="namespace", position=0, status="unchanged")
        return run

    quiet = drift_run(old, status=Run.Status.SUCCEEDED)
    found = drift_run(old, status=Run.Status.SUCCEEDED, drift=["network: policy missing"])
    failed = drift_run(old, status=Run.Status.FAILED, error="Authentik did not answer")
    recent = drift_run(timezone.now() - timedelta(days=2), status=Run.Status.SUCCEEDED)
    built = Run.objects.create(tenant=tenant, action="apply", reason="approved", status="succeeded")
    Run.objects.filter(pk=built.pk).update(finished_at=old)
    # Another tenant's only check, old and quiet: the latest one stays, whatever its age.
    latest_elsewhere = TenantFactory(owner=requester, state=Tenant.State.READY)
    alone = Run.objects.create(
        tenant=latest_elsewhere, action="apply", reason="drift", status="succeeded"
    )
    Run.objects.filter(pk=alone.pk).update(created_at=old, finished_at=old)

    assert sweeps.prune_quiet_drift_runs() == 1
    kept = set(Run.objects.values_list("pk", flat=True))
    assert quiet.pk not in kept
    assert {found.pk, failed.pk, recent.pk, built.pk, alone.pk} <= kept
    assert not StepRun.objects.filter(run_id=quiet.pk).exists()


class SettlingStep:
    """A step whose resource settles on the second look (as a rollout does)."""

    name = "settle"
    title = "Settle"
    looks = 0

    def __init__(self, ctx):
        self.ctx = ctx

    def check(self):
        return ["missing"]

    def apply(self):
        from provisioning.steps.base import Outcome

        SettlingStep.looks += 1
        if SettlingStep.looks % 2:
            return Outcome.waiting("waiting for the rollout (0/1 ready)")
        return Outcome.done("rolled out")


def test_one_sweep_at_a_time(requester, settings, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    settings.PORTAL_DRIFT_INTERVAL = 0  # every sweep finds the tenant due
    tenant = TenantFactory(owner=requester, state=Tenant.State.READY)
    cache.add(sweeps.SWEEP_KEY, "w2:123:1", timeout=60)  # another worker's sweep is under way
    try:
        with django_capture_on_commit_callbacks(execute=False):
            assert sweeps.sweep() is False
        assert not tenant.runs.exists(), "the sweep beside it started a drift check too"
    finally:
        cache.delete(sweeps.SWEEP_KEY)
    with django_capture_on_commit_callbacks(execute=False):
        assert sweeps.sweep() is True
        assert sweeps.sweep() is True  # the key went with the sweep that took it
    assert tenant.runs.filter(reason="drift").count() == 1
