"""A serving tenant stays served: a drift run (or a reconcile by hand) that meets an outage of
the Authentik fake leaves it READY and says degraded; health is shown apart from drift. Driven
eagerly here; test_degraded_workers.py shows the drift run on a real worker."""

import re
import socket

import pytest

from provisioning import sweeps
from provisioning.health import tenant_health
from provisioning.models import Run
from tenants import services
from tenants.models import AuditEvent, Tenant
from tests.factories import TenantFactory

STEPS = [
    "provisioning.steps.namespace.NamespaceStep",
    "provisioning.steps.network.NetworkStep",
    "provisioning.steps.sso.SsoStep",
]


@pytest.fixture
def serving(
    requester,
    approver,
    kube_cluster,
    authentik_api,
    settings,
    eager_celery,
    mailoutbox,
    django_capture_on_commit_callbacks,
):
    settings.PORTAL_STEPS = STEPS
    settings.PORTAL_AUTHENTIK_ACCESS_GROUP = ""
    settings.PORTAL_DRIFT_INTERVAL = 0  # every sweep finds the tenant due
    settings.PORTAL_STEP_RETRY_BUDGET = 0  # the first passing error ends the run
    settings.PORTAL_REQUEST_RETRY_BUDGET = 0.3
    tenant = TenantFactory(owner=requester, slug="shop")
    with django_capture_on_commit_callbacks(execute=True):
        services.tenant_approve(tenant_id=tenant.pk, actor=approver)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY, tenant.last_error
    assert tenant_health(tenant).degraded is False
    mailoutbox.clear()
    return tenant


def _authentik_down(settings) -> None:
    """Authentik stops answering: nothing listens where the portal looks for it any more."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.PORTAL_AUTHENTIK_URL = f"http://127.0.0.1:{port}"


def _drift_check(capture) -> None:
    with capture(execute=True):
        sweeps.start_drift_checks()


def test_an_outage_during_a_drift_run_leaves_the_tenant_ready_and_degraded(
    serving, settings, mailoutbox, django_capture_on_commit_callbacks
):
    _authentik_down(settings)
    _drift_check(django_capture_on_commit_callbacks)

    run = serving.runs.get(reason="drift")
    assert run.status == Run.Status.FAILED
    assert "The sso step failed: Authentik at " in run.error and "did not answer" in run.error
    serving.refresh_from_db()
    assert serving.state == Tenant.State.READY
    assert serving.last_error == ""
    assert not mailoutbox, "the owner was told the tenant failed"
    health = tenant_health(serving)
    assert health.degraded and health.since == run.created_at and health.cause == run.error
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_FAILED).exists()

    # Still down at the next check: degraded since the first failure, not the latest.
    _drift_check(django_capture_on_commit_callbacks)
    assert tenant_health(serving).since == run.created_at


def test_the_owner_sees_degraded_and_can_reconcile(
    serving, settings, client_for, requester, approver, django_capture_on_commit_callbacks
):
    _authentik_down(settings)
    _drift_check(django_capture_on_commit_callbacks)
    page = client_for(requester).get(serving.get_absolute_url()).content.decode()
    health = re.search(r'<p class="health health-degraded".*?</p>', page, re.S).group(0)
    assert "<strong>Degraded</strong> since " in health and "the site keeps serving" in health
    assert "did not answer" not in health  # the cause in the portal's words is for admins
    admin_page = client_for(approver).get(serving.get_absolute_url()).content.decode()
    assert "did not answer (ConnectionError)" in re.search(
        r'<p class="health health-degraded".*?</p>', admin_page, re.S
    ).group(0)
    assert 'id="btn-reconcile"' in page

    # Reconciling by hand while Authentik is still down: still ready, still degraded.
    with django_capture_on_commit_callbacks(execute=True):
        client_for(requester).post(f"/tenants/{serving.pk}/reconcile/")
    serving.refresh_from_db()
    assert serving.runs.filter(reason="manual").get().status == Run.Status.FAILED
    assert serving.state == Tenant.State.READY
    assert tenant_health(serving).degraded


def test_a_repaired_drift_clears_degraded(
    serving, authentik_api, settings, django_capture_on_commit_callbacks, client_for, approver
):
    _authentik_down(settings)
    _drift_check(django_capture_on_commit_callbacks)
    assert tenant_health(serving).degraded
    settings.PORTAL_AUTHENTIK_URL = authentik_api.url  # back
    _drift_check(django_capture_on_commit_callbacks)
    latest = serving.runs.filter(reason="drift").first()
    assert latest.status == Run.Status.SUCCEEDED, latest.error
    assert tenant_health(serving).degraded is False
    page = client_for(approver).get(serving.get_absolute_url()).content.decode()
    assert "Degraded" not in page
