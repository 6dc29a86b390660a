"""The periodic sweep: drift checks of ready tenants, repair or report, stalled runs."""

from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning import sweeps, tasks
from provisioning.models import Run
from tenants import selectors, services
from tenants.models import AuditEvent, Tenant
from tests.factories import TenantFactory


@pytest.fixture
def ready_tenant(requester, approver, eager_celery, django_capture_on_commit_callbacks, settings):
    settings.PORTAL_DRIFT_INTERVAL = 0  # every sweep finds every ready tenant due
    tenant = TenantFactory(owner=requester, slug="drifty")
    with django_capture_on_commit_callbacks(execute=True):
        services.tenant_approve(tenant_id=tenant.pk, actor=approver)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY
    return tenant


def _sweep(capture):
    with capture(execute=True):
        tasks.reconcile_all()


def test_a_matching_tenant_is_checked_and_left_alone(
    ready_tenant, django_capture_on_commit_callbacks
):
    _sweep(django_capture_on_commit_callbacks)
    check = selectors.tenant_last_drift_check(ready_tenant)
    assert check.status == Run.Status.SUCCEEDED and check.drift == []
    ready_tenant.refresh_from_db()
    assert ready_tenant.state == Tenant.State.READY
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_DRIFT).exists()


def test_drift_is_found_recorded_and_repaired(
    ready_tenant, django_capture_on_commit_callbacks, settings, client_for, requester
):
    plan_file = settings.PORTAL_PLAN_DIR / "drifty" / "network.yaml"
    if not plan_file.exists():
        plan_file = next((settings.PORTAL_PLAN_DIR / "drifty").glob("network.*"))
    wanted = plan_file.read_text()
    plan_file.write_text("someone edited this by hand\n")

    _sweep(django_capture_on_commit_callbacks)
    check = selectors.tenant_last_drift_check(ready_tenant)
    assert check.drift == [f"network: plan {plan_file.name} changed"]
    assert plan_file.read_text() == wanted
    event = AuditEvent.objects.get(action=AuditEvent.Action.TENANT_DRIFT)
    assert event.message == "Repaired." and event.after == {"differences": check.drift}
    ready_tenant.refresh_from_db()
    assert ready_tenant.state == Tenant.State.READY  # a drift repair is not a new provisioning

    page = client_for(requester).get(ready_tenant.get_absolute_url()).content.decode()
    assert "Last drift check" in page
    assert f"drift repaired: network: plan {plan_file.name} changed" in page


def test_report_mode_only_reports(ready_tenant, django_capture_on_commit_callbacks, settings):
    settings.PORTAL_DRIFT_MODE = "report"
    plan_file = next((settings.PORTAL_PLAN_DIR / "drifty").glob("database.*"))
    plan_file.write_text("hand-made\n")
    _sweep(django_capture_on_commit_callbacks)
    check = selectors.tenant_last_drift_check(ready_tenant)
    assert check.action == Run.Action.CHECK
    assert check.drift == [f"database: plan {plan_file.name} changed"]
    assert plan_file.read_text() == "hand-made\n"
    assert AuditEvent.objects.get(action=AuditEvent.Action.TENANT_DRIFT).message == "Reported."


def test_a_run_whose_message_was_lost_is_sent_again_once(
    requester, approver, django_capture_on_commit_callbacks
):
    tenant = TenantFactory(owner=requester)
    # Approved, but the queued message was lost (say the broker restarted): the run sits there.
    with django_capture_on_commit_callbacks(execute=False):
        services.tenant_approve(tenant_id=tenant.pk, actor=approver)
    run = tenant.runs.get()
    assert sweeps.runs_without_live_message() == [run]
    assert sweeps.runs_without_live_message() == []  # just re-sent: not again before the grace
    Run.objects.filter(pk=run.pk).update(wakeup_at=timezone.now() - timedelta(minutes=6))
    Tenant.objects.filter(pk=tenant.pk).update(
        lock_holder="busy-worker", lock_expires_at=timezone.now() + timedelta(minutes=5)
    )
    assert sweeps.runs_without_live_message() == []  # a live worker holds it
