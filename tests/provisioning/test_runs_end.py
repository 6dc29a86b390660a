"""Every run ends: a broken bookkeeping write or a step that is always cut off fails the run."""

import pytest
from django.db import connection

from provisioning import engine, tasks
from provisioning.models import Run, StepRun
from tenants import services
from tenants.models import Tenant
from tests.factories import TenantFactory
from tests.provisioning.conftest import approved_tenant, wait_state
from tests.provisioning.probe import ledger
from tests.workers import wait_until


@pytest.fixture
def refuse_success(db):
    """A PostgreSQL trigger that makes marking a run succeeded fail, as a real DB error."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            CREATE FUNCTION portal_test_refuse() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION 'disk full (injected)'; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER portal_test_refuse BEFORE UPDATE ON provisioning_run
            FOR EACH ROW WHEN (NEW.status = 'succeeded') EXECUTE FUNCTION portal_test_refuse();
            """
        )


def test_a_database_error_in_the_bookkeeping_fails_the_run_with_a_message(
    requester, approver, refuse_success, django_capture_on_commit_callbacks
):
    tenant = TenantFactory(owner=requester)
    with django_capture_on_commit_callbacks(execute=False):  # no worker: we drive the engine
        services.tenant_approve(tenant_id=tenant.pk, actor=approver)
        assert engine.reconcile(tenant.pk) is None

    run = tenant.runs.get()
    assert run.status == Run.Status.FAILED
    assert run.error == (
        "The run stopped: internal error in the engine (ProgrammingError); see the log."
    )
    assert run.finished_at is not None
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.FAILED
    assert tenant.last_error == run.error
    assert tenant.lock_holder == ""  # the lease is given back


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_step_cut_off_by_the_hard_time_limit_counts_as_an_attempt(
    requester, approver, workers, probe, settings
):
    settings.PORTAL_SWEEP_INTERVAL = 1  # the test is the beat, sweeping often
    probe(delay=60)  # the apply hangs before it writes, longer than the hard limit
    # No soft limit: the step is stuck where no exception reaches it, only the hard kill ends it.
    workers(
        "w1",
        PORTAL_TASK_TIME_LIMIT="3",
        PORTAL_TASK_SOFT_TIME_LIMIT="0",
        PORTAL_STEP_MAX_RETRIES="2",
    )
    tenant = approved_tenant(requester, approver)

    def failed():
        tasks.reconcile_all()  # the beat's sweep picks up runs whose worker was killed
        tenant.refresh_from_db()
        return tenant.state == Tenant.State.FAILED

    wait_until(failed, 90, "the tenant to fail", workers.logs)
    step = tenant.runs.get().steps.get(name="probe")
    assert step.status == StepRun.Status.FAILED and step.attempts == 2
    assert tenant.last_error == (
        "The probe step failed: cut off 2 times before it finished (the worker died or the "
        "step ran past the task's hard time limit of 3 s)"
    )
    assert [entry["event"] for entry in ledger("spans")].count("start") == 2
    assert "Hard time limit (3s) exceeded" in workers.full_logs()
    wait_state(tenant, {Tenant.State.FAILED}, workers)
