"""Fencing: a pass whose run was taken over can't write, the lease lives while a step runs,
and the settings refuse a lease that a hung step could outlive."""

import time
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F
from django.utils import timezone

from provisioning import checks, engine
from provisioning.models import Run, StepRun
from provisioning.steps.base import Outcome, Step
from tenants import services
from tenants.models import Tenant
from tests import services as svc
from tests.factories import TenantFactory
from tests.workers import Worker, wait_until, worker_env

OTHER = "other-host:4242:cafe0000"
SEEN: dict[str, object] = {}


class _MissingStep(Step):
    """A "configured" step whose resource is never there yet, so every run applies it."""

    plan_suffix = "txt"

    def make_driver(self):
        return self

    def live_check(self) -> list[str]:
        return ["missing"]


class TakenOverStep(_MissingStep):
    """While it works, the lease runs out and another worker claims the run."""

    name = "taken"

    def live_apply(self) -> Outcome:
        run = Run.objects.get(tenant__slug=self.spec.slug, status=Run.Status.RUNNING)
        Tenant.objects.filter(pk=run.tenant_id).update(
            lock_holder=OTHER, lock_expires_at=timezone.now() + timedelta(minutes=5)
        )
        Run.objects.filter(pk=run.pk).update(token=F("token") + 1, holder=OTHER)
        return Outcome.done("made")


class SlowStep(_MissingStep):
    """Takes several lease lifetimes, and notes how the lease looked at the end."""

    name = "slow"

    def live_apply(self) -> Outcome:
        time.sleep(3.5)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT lock_expires_at > now(), lock_holder FROM tenants_tenant WHERE slug = %s",
                [self.spec.slug],
            )
            SEEN["lease_alive"], SEEN["holder"] = cursor.fetchone()
        return Outcome.done("made")


def _approved(requester, approver, capture) -> Tenant:
    tenant = TenantFactory(owner=requester)
    with capture(execute=False):  # no worker: we drive the engine
        services.tenant_approve(tenant_id=tenant.pk, actor=approver)
    return tenant


def test_a_displaced_holder_s_late_writes_are_refused(
    requester, approver, settings, django_capture_on_commit_callbacks
):
    settings.PORTAL_STEPS = [f"{__name__}.TakenOverStep"]
    tenant = _approved(requester, approver, django_capture_on_commit_callbacks)

    assert engine.reconcile(tenant.pk) is None

    run = tenant.runs.get()
    assert run.status == Run.Status.RUNNING and run.holder == OTHER and run.token == 2
    step = run.steps.get()
    assert step.status == StepRun.Status.RUNNING, "the step's result was written anyway"
    assert "made" not in step.log
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.PROVISIONING
    assert tenant.lock_holder == OTHER  # our release doesn't touch the new holder's lease


@pytest.mark.django_db(transaction=True)
def test_the_lease_is_renewed_while_a_step_runs(
    requester, approver, settings, django_capture_on_commit_callbacks
):
    settings.PORTAL_STEPS = [f"{__name__}.SlowStep"]
    settings.PORTAL_TENANT_LOCK_TTL = 1  # the step takes three and a half of these
    tenant = _approved(requester, approver, django_capture_on_commit_callbacks)
    SEEN.clear()

    assert engine.reconcile(tenant.pk) is None

    assert SEEN["lease_alive"] is True, "the lease expired while its holder still worked"
    run = tenant.runs.get()
    assert run.status == Run.Status.SUCCEEDED and run.holder == SEEN["holder"]
    assert run.holder.split(":")[0] and run.token == 1


def test_a_lease_no_longer_than_the_hard_time_limit_is_refused(settings):
    settings.CELERY_TASK_TIME_LIMIT = 300
    settings.PORTAL_TENANT_LOCK_TTL = 300
    [error] = checks.lease_outlives_the_hard_time_limit()
    assert error.id == "provisioning.E010"
    assert "PORTAL_TENANT_LOCK_TTL (300 s) must be longer" in error.msg

    settings.PORTAL_TENANT_LOCK_TTL = 360
    assert checks.lease_outlives_the_hard_time_limit() == []
    settings.CELERY_TASK_TIME_LIMIT = None  # no hard limit: a hung step would hold for ever
    assert checks.lease_outlives_the_hard_time_limit()[0].id == "provisioning.E010"


REFUSALS = [
    ({"PORTAL_TENANT_LOCK_TTL": "300"}, "TTL (300 s) must be longer than the task's hard time"),
    # No hard limit at all: a hung step would hold its tenant for ever.
    ({"PORTAL_TENANT_LOCK_TTL": "4", "PORTAL_TASK_TIME_LIMIT": "0"}, "TIME_LIMIT, none s)"),
]


@pytest.mark.integration
@pytest.mark.parametrize("clocks, said", REFUSALS)
def test_a_worker_refuses_to_start_with_a_lease_the_hard_limit_outlasts(tmp_path, clocks, said):
    # Django's system checks never run in a worker: the worker itself says no, and exits.
    svc.require("Redis", svc.REDIS)
    refused = Worker(worker_env(clocks), tmp_path / "refused.log", "refused")
    try:
        assert refused.proc.wait(timeout=60) != 0, "the worker started"
    finally:
        refused.stop()
    said_line = [line for line in refused.log().splitlines() if line.startswith("The worker")]
    assert said_line, refused.log()[-2000:]
    assert said_line[0].startswith("The worker refuses to start: PORTAL_TENANT_LOCK_TTL")
    assert said in said_line[0]
    assert "Raise PORTAL_TENANT_LOCK_TTL, or lower PORTAL_TASK_TIME_LIMIT" in said_line[0]

    # The same worker with a lease longer than its hard limit starts and serves.
    good = {**clocks, "PORTAL_TENANT_LOCK_TTL": "4", "PORTAL_TASK_TIME_LIMIT": "3"}
    good["PORTAL_TASK_SOFT_TIME_LIMIT"] = "2"
    started = Worker(worker_env(good), tmp_path / "started.log", "started")
    try:
        wait_until(lambda: " ready." in started.log(), 60, "the worker to start", started.log)
        assert started.proc.poll() is None
    finally:
        started.stop()
    assert "refuses to start" not in started.log()
