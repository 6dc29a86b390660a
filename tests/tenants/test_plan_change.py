"""Changing a tenant's plan: smaller at once, larger by an admin or on request, capacity checked."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from portal.errors import ApplicationError
from provisioning.models import Run
from provisioning.spec import spec_for
from tenants import plan_change
from tenants.models import AuditEvent
from tests.factories import TenantFactory, plan

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action


def test_a_smaller_plan_applies_at_once_and_the_volume_keeps_its_size(client, requester, medium):
    client.force_login(requester)
    page = client.get(reverse("tenants:plan", args=[medium.pk])).content.decode()
    assert "Now on <strong>Medium</strong>" in page
    answer = client.post(reverse("tenants:plan", args=[medium.pk]), {"plan": plan("small").pk})
    assert answer.status_code == 302
    medium.refresh_from_db()
    assert medium.plan.name == "small" and medium.volume_gib == 20
    spec = spec_for(medium)
    assert spec.plan.storage_gib == 20 and spec.plan.replicas == 1
    assert Run.objects.filter(tenant=medium, reason="plan change").exists()
    event = AuditEvent.objects.get(action=Action.TENANT_PLAN_CHANGED)
    assert event.before["plan"] == "medium" and event.after["plan"] == "small"
    assert event.message == "The volume stays at 20 GiB: a volume never shrinks."
    page = client.get(medium.get_absolute_url()).content.decode()
    assert "20 GiB" in page and "a volume never shrinks" in page


def test_a_requester_asks_for_a_larger_plan_and_an_admin_approves_it(
    client, requester, approver, medium
):
    client.force_login(requester)
    client.post(reverse("tenants:plan", args=[medium.pk]), {"plan": plan("large").pk})
    medium.refresh_from_db()
    assert medium.plan.name == "medium" and medium.requested_plan.name == "large"
    assert not Run.objects.filter(tenant=medium).exists()
    assert AuditEvent.objects.filter(action=Action.TENANT_PLAN_REQUESTED).count() == 1
    assert 'id="requested-plan"' in client.get(medium.get_absolute_url()).content.decode()

    client.force_login(approver)
    page = client.get(reverse("tenants:plan", args=[medium.pk])).content.decode()
    assert 'id="btn-plan-approve"' in page and "of the tenant node pool" in page
    client.post(reverse("tenants:plan", args=[medium.pk]), {"plan": plan("large").pk})
    medium.refresh_from_db()
    assert medium.plan.name == "large" and medium.requested_plan is None
    assert Run.objects.filter(tenant=medium, reason="plan change").exists()


def test_an_admin_declines_a_larger_plan(client, requester, approver, medium):
    plan_change.tenant_change_plan(tenant=medium, actor=requester, plan=plan("large"))
    client.force_login(approver)
    client.post(reverse("tenants:plan", args=[medium.pk]), {"decision": "decline"})
    medium.refresh_from_db()
    assert medium.requested_plan is None and medium.plan.name == "medium"
    assert AuditEvent.objects.filter(action=Action.TENANT_PLAN_DECLINED).count() == 1


def test_a_larger_plan_the_cluster_has_no_room_for_is_refused_with_the_numbers(
    client, approver, medium, settings
):
    settings.PORTAL_CLUSTER_CPU_MILLICORES = 2000
    client.force_login(approver)
    answer = client.post(reverse("tenants:plan", args=[medium.pk]), {"plan": plan("large").pk})
    assert answer.status_code == 400
    assert "The cluster has no room for Large" in answer.content.decode()
    assert "150 % of the CPU" in answer.content.decode()
    medium.refresh_from_db()
    assert medium.plan.name == "medium"


@pytest.mark.parametrize(
    ("state", "target", "error", "message"),
    [
        ("ready", "medium", ValidationError, "already on the Medium plan"),
        ("provisioning", "small", ApplicationError, "Try again once it has settled"),
        ("deleting", "small", ApplicationError, "Only a ready or failed tenant"),
    ],
)
def test_changes_that_make_no_sense_now_are_refused_in_words(
    approver, requester, state, target, error, message
):
    tenant = TenantFactory(owner=requester, state=state, plan=plan("medium"))
    with pytest.raises(error, match=message):
        plan_change.tenant_change_plan(tenant=tenant, actor=approver, plan=plan(target))
    assert not Run.objects.filter(tenant=tenant).exists()


def test_a_plan_no_longer_offered_and_someone_elses_tenant_are_refused(
    client, other_requester, requester, medium
):
    retired = plan("small")
    retired.is_active = False
    retired.save()
    client.force_login(requester)
    answer = client.post(reverse("tenants:plan", args=[medium.pk]), {"plan": retired.pk})
    assert answer.status_code == 400 and "Choose one of the offered plans." in (
        answer.content.decode()
    )
    with pytest.raises(ApplicationError, match="Only the owner or a platform admin"):
        plan_change.tenant_change_plan(tenant=medium, actor=other_requester, plan=plan("large"))
    assert AuditEvent.objects.get(action=Action.TENANT_REFUSED).actor == other_requester
