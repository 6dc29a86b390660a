"""A tenant held back by an outage: shown waiting (which system, since when, when the portal
tries again) on its page, in the admin and the API; a platform admin may retry it now."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from provisioning import sweeps
from provisioning.models import Run
from provisioning.waiting import tenant_waiting
from tenants.models import AuditEvent, Tenant
from tests.factories import TenantFactory, run_ended_by_outage

pytestmark = pytest.mark.django_db

SINCE = timezone.now().replace(microsecond=0) - timedelta(minutes=50)


def _ended_by_outage(tenant, *, minutes_ago: float) -> Run:
    return run_ended_by_outage(tenant, since=SINCE, minutes_ago=minutes_ago)


@pytest.fixture
def held(requester, settings):
    settings.PORTAL_OUTAGE_RETRY_DELAY = 600
    tenant = TenantFactory(owner=requester, slug="held", state=Tenant.State.PROVISIONING)
    _ended_by_outage(tenant, minutes_ago=2)
    return tenant


def test_a_tenant_an_outage_ended_waits_for_that_system_and_each_wait_doubles(held):
    waiting = tenant_waiting(held)
    assert (waiting.system, waiting.since, waiting.runs) == ("Kubernetes", SINCE, 1)
    last = held.runs.get()
    assert waiting.retry_at == last.finished_at + timedelta(seconds=600)

    again = _ended_by_outage(held, minutes_ago=1)
    waiting = tenant_waiting(held)
    assert waiting.runs == 2 and waiting.since == SINCE  # since the outage began
    assert waiting.retry_at == again.finished_at + timedelta(seconds=1200)

    Run.objects.create(tenant=held, action=Run.Action.APPLY, reason="outage retry")
    assert tenant_waiting(held).retry_at is None  # being tried again now


def test_another_system_away_is_an_outage_of_its_own_waited_for_from_its_first_delay(held):
    _ended_by_outage(held, minutes_ago=1.5)  # two runs Kubernetes ended, then Authentik away
    later = SINCE + timedelta(minutes=40)
    authentik = run_ended_by_outage(held, since=later, minutes_ago=1, system="Authentik")
    waiting = tenant_waiting(held)
    assert (waiting.system, waiting.since, waiting.runs) == ("Authentik", later, 1)
    assert waiting.retry_at == authentik.finished_at + timedelta(seconds=600)


def test_a_failure_that_is_no_outage_or_a_tenant_not_being_built_is_not_waiting(held):
    Run.objects.filter(tenant=held).update(outage="")
    assert tenant_waiting(held) is None
    Run.objects.filter(tenant=held).update(outage="Kubernetes")
    Tenant.objects.filter(pk=held.pk).update(state=Tenant.State.READY)
    held.refresh_from_db()
    assert tenant_waiting(held) is None  # a serving tenant is degraded, not waiting


def test_the_page_says_what_it_waits_for_and_only_admins_may_retry_now(
    client, held, requester, approver
):
    client.force_login(requester)
    page = client.get(held.get_absolute_url()).content.decode()
    assert "Waiting for Kubernetes</strong> since " in page
    assert "held back, not failed, and nothing is lost" in page
    assert "The portal tries again by itself at " in page
    assert "btn-retry-now" not in page
    assert "Detail for admins" not in page
    refused = client.post(reverse("tenants:retry", args=[held.pk]), follow=True)
    assert "Only platform admins can retry a tenant." in refused.content.decode()
    assert held.runs.count() == 1

    client.force_login(approver)
    page = client.get(held.get_absolute_url()).content.decode()
    assert 'id="btn-retry-now"' in page
    assert "Kubernetes did not answer" in page  # the cause, for admins


def test_retry_now_starts_a_run_at_once_and_is_audited(
    client, held, approver, django_capture_on_commit_callbacks
):
    client.force_login(approver)
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("tenants:retry", args=[held.pk]), follow=True)
    assert "A new run was started" in response.content.decode()
    run = held.runs.order_by("-id").first()
    assert (run.reason, run.status, run.action) == ("retry", Run.Status.PENDING, Run.Action.APPLY)
    event = AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_RETRIED).get()
    assert event.actor_name == approver.username
    assert event.message.startswith(
        f"Retried now, while waiting for Kubernetes since {SINCE:%Y-%m-%d %H:%M} UTC"
    )

    page = client.get(held.get_absolute_url()).content.decode()
    assert "The portal is trying again now." in page and "btn-retry-now" not in page
    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("tenants:retry", args=[held.pk]), follow=True)
    assert "The portal is trying again right now (waiting for Kubernetes)" in (
        response.content.decode()
    )
    assert held.runs.filter(status=Run.Status.PENDING).count() == 1
    # The sweep leaves a tenant alone whose retry is under way.
    with django_capture_on_commit_callbacks(execute=False):
        assert sweeps.retry_after_outages() == []


def test_the_sweep_starts_the_retry_once_the_wait_is_over(held, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        assert sweeps.retry_after_outages() == []
        Run.objects.filter(tenant=held).update(finished_at=timezone.now() - timedelta(minutes=11))
        assert sweeps.retry_after_outages() == [held.pk]
    assert held.runs.order_by("-id").first().reason == "outage retry"


def test_the_admin_lists_what_a_tenant_waits_for(client, held, approver):
    TenantFactory(owner=held.owner, slug="fine", state=Tenant.State.PROVISIONING)
    client.force_login(approver)
    listing = client.get(reverse("admin:tenants_tenant_changelist")).content.decode()
    assert '<td class="field-waiting_for">Kubernetes</td>' in listing
    assert '<td class="field-waiting_for">—</td>' in listing
    detail = client.get(reverse("admin:tenants_tenant_change", args=[held.pk])).content.decode()
    assert f"for Kubernetes since {SINCE:%Y-%m-%d %H:%M} UTC (1 run(s) in a row" in detail
