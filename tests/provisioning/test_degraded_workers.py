"""On real workers: a drift run that meets an outage of the Authentik fake leaves a serving
tenant READY and says degraded (test_degraded.py drives the same rules eagerly)."""

import os

import pytest

from provisioning import sweeps
from provisioning.health import tenant_health
from provisioning.models import Run
from tenants import services
from tenants.models import AuditEvent, Tenant
from tests import services as svc
from tests.factories import TenantFactory
from tests.provisioning.test_degraded import STEPS
from tests.workers import Worker, wait_until, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path, kube_api, authentik_api, settings):
    """One worker process on Redis, building against the Kubernetes and Authentik fakes."""
    svc.require("Redis", svc.REDIS)
    settings.PORTAL_DRIFT_INTERVAL = 0  # every sweep (this test's call) finds the tenant due
    env = worker_env(
        {
            "PORTAL_STEPS": ",".join(STEPS),
            "PORTAL_KUBECONFIG": str(kube_api.kubeconfig_path),
            "PORTAL_KUBE_TIMEOUT": "2",
            "PORTAL_AUTHENTIK_URL": authentik_api.url,
            "PORTAL_AUTHENTIK_TOKEN": authentik_api.token,
            "PORTAL_AUTHENTIK_ACCESS_GROUP": "",
            "PORTAL_AUTHENTIK_CONNECT_TIMEOUT": "1",
            "PORTAL_PLAN_DIR": str(tmp_path / "plan"),
            "PORTAL_STEP_RETRY_BUDGET": "0",  # the first passing error ends the run
            "PORTAL_REQUEST_RETRY_BUDGET": "0.3",
            "PORTAL_RETRY_BASE_DELAY": "0.2",
            # Under the lease, or the worker refuses to start (provisioning.leaserule).
            "PORTAL_TENANT_LOCK_TTL": "11",
            "PORTAL_TASK_TIME_LIMIT": "10",
            "PORTAL_TASK_SOFT_TIME_LIMIT": "8",
        }
    )
    started = Worker(env, tmp_path / "worker.log", "degraded")
    yield started
    started.stop()


def _settled(tenant, worker, reason: str) -> Run:
    def ended():
        return tenant.runs.filter(reason=reason).exclude(status__in=Run.OPEN).first()

    return wait_until(ended, 90, f"the {reason} run to end", lambda: worker.log()[-4000:])


def test_a_drift_run_on_a_worker_during_an_authentik_outage_leaves_the_tenant_serving(
    requester, approver, worker, authentik_api, client_for
):
    tenant = TenantFactory(owner=requester, slug="shop")
    services.tenant_approve(tenant_id=tenant.pk, actor=approver)
    built = _settled(tenant, worker, "approved")
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY, (built.error, worker.log()[-4000:])

    authentik_api.down()  # the outage: nothing answers at the address the worker uses
    sweeps.start_drift_checks()  # the beat's sweep: the run's message goes to the worker
    run = _settled(tenant, worker, "drift")

    assert run.status == Run.Status.FAILED
    assert "The sso step failed: Authentik at " in run.error and "did not answer" in run.error
    assert run.holder.split(":")[1] != str(os.getpid()), "the test process ran the engine"
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY
    assert tenant.last_error == ""
    health = tenant_health(tenant)
    assert health.degraded and health.since == run.created_at and health.cause == run.error
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_FAILED).exists()
    page = client_for(requester).get(tenant.get_absolute_url()).content.decode()
    assert "<strong>Degraded</strong> since " in page and "the site keeps serving" in page
