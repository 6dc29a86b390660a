"""Suspend and resume from the tenant page: who may, when, and what each refusal says."""

import pytest
from django.urls import reverse

from portal.errors import ApplicationError
from provisioning.models import Run
from tenants import suspension
from tenants.models import AuditEvent, Tenant
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action


@pytest.fixture
def ready(requester):
    return TenantFactory(owner=requester, slug="shop", state=Tenant.State.READY)


def test_owner_suspends_from_the_page_and_sees_it_then_resumes(client, requester, ready):
    client.force_login(requester)
    page = client.get(ready.get_absolute_url()).content.decode()
    assert 'id="btn-suspend"' in page and 'id="btn-resume"' not in page

    answer = client.post(reverse("tenants:suspend", args=[ready.pk]), {"reason": "moving"})
    assert answer.status_code == 302
    ready.refresh_from_db()
    assert ready.is_suspended and ready.suspension_reason == "moving"
    assert Run.objects.filter(tenant=ready, reason="suspend", action="apply").exists()
    page = client.get(ready.get_absolute_url()).content.decode()
    assert 'id="suspended-badge"' in page and "moving" in page
    assert 'id="btn-resume"' in page and 'id="btn-suspend"' not in page

    client.post(reverse("tenants:resume", args=[ready.pk]))
    ready.refresh_from_db()
    assert not ready.is_suspended and ready.suspended_by is None
    # The suspension's run has not started yet: it is reused, and reads the spec when it does.
    assert Run.objects.filter(tenant=ready, status__in=Run.OPEN).count() == 1


def test_an_admin_says_why_and_only_an_admin_lifts_it(client, requester, approver, ready):
    with pytest.raises(Exception) as refused:
        suspension.tenant_suspend(tenant=ready, actor=approver, reason="  ")
    assert "Say why" in str(refused.value)
    suspension.tenant_suspend(tenant=ready, actor=approver, reason="Unpaid invoice")
    ready.refresh_from_db()

    client.force_login(requester)
    page = client.get(ready.get_absolute_url()).content.decode()
    assert "Unpaid invoice" in page and 'id="btn-resume"' not in page
    answer = client.post(reverse("tenants:resume", args=[ready.pk]), follow=True)
    assert "A platform admin suspended this tenant; ask one to resume it." in (
        answer.content.decode()
    )
    ready.refresh_from_db()
    assert ready.is_suspended
    refusal = AuditEvent.objects.get(action=Action.TENANT_REFUSED)
    assert refusal.actor == requester and refusal.message.startswith("resume:")

    suspension.tenant_resume(tenant=ready, actor=approver)
    ready.refresh_from_db()
    assert not ready.is_suspended


@pytest.mark.parametrize(
    ("state", "suspended", "act", "message"),
    [
        ("ready", False, "resume", "This tenant is not suspended"),
        ("ready", True, "suspend", "already suspended"),
        ("provisioning", False, "suspend", "Only a ready or failed tenant can be suspended"),
        ("deleting", False, "suspend", "being deleted or gone"),
        ("provisioning", True, "resume", "Try again once it has settled"),
    ],
)
def test_actions_that_make_no_sense_now_are_refused_in_words(
    requester, state, suspended, act, message
):
    tenant = TenantFactory(owner=requester, state=state)
    if suspended:
        Tenant.objects.filter(pk=tenant.pk).update(suspended_at="2026-01-01T00:00Z")
        tenant.refresh_from_db()
    fn = suspension.tenant_suspend if act == "suspend" else suspension.tenant_resume
    with pytest.raises(ApplicationError, match=message):
        fn(tenant=tenant, actor=requester)
    assert not Run.objects.filter(tenant=tenant).exists()


def test_someone_elses_tenant_is_refused_and_audited(other_requester, ready):
    with pytest.raises(ApplicationError, match="Only the owner or a platform admin"):
        suspension.tenant_suspend(tenant=ready, actor=other_requester)
    assert AuditEvent.objects.get(action=Action.TENANT_REFUSED).actor == other_requester
    ready.refresh_from_db()
    assert not ready.is_suspended


def test_auditors_cannot_suspend(client, auditor, ready):
    client.force_login(auditor)
    answer = client.post(reverse("tenants:suspend", args=[ready.pk]), {"reason": "x"})
    assert answer.status_code == 403
    ready.refresh_from_db()
    assert not ready.is_suspended


def test_a_reason_with_a_nul_byte_is_refused_in_words(client, requester, ready):
    client.force_login(requester)

    response = client.post(
        reverse("tenants:suspend", args=[ready.pk]), {"reason": "off\x00"}, follow=True
    )

    assert "The reason can&#x27;t contain a NUL character; remove it." in response.content.decode()
    ready.refresh_from_db()
    assert not ready.is_suspended
