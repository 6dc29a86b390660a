"""A rejected request, edited by its requester and sent again: history keeps both versions."""

import pytest
from django.core import mail
from django.urls import reverse

from tenants import services
from tenants.models import AuditEvent, Tenant
from tests.factories import TenantFactory, plan


@pytest.fixture
def rejected(requester, approver):
    tenant = TenantFactory(owner=requester, slug="nope", display_name="First try")
    services.tenant_reject(tenant_id=tenant.pk, actor=approver, reason="Use a larger plan.")
    tenant.refresh_from_db()
    return tenant


def _form(**changes):
    data = {
        "slug": "nope",
        "display_name": "Second try",
        "plan": plan("medium").pk,
        "wordpress_version": "6.8",
        "admin_email": "shop@example.com",
    }
    return {**data, **changes}


def test_requester_edits_a_rejected_request_and_sends_it_again(
    client, requester, approver, rejected, eager_celery, django_capture_on_commit_callbacks
):
    client.force_login(requester)
    detail = client.get(rejected.get_absolute_url()).content.decode()
    assert "Edit and send again" in detail
    form = client.get(reverse("tenants:resubmit", args=[rejected.pk])).content.decode()
    # The reason is in front of the requester, the earlier answers are filled in.
    assert "Use a larger plan." in form and 'value="First try"' in form
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("tenants:resubmit", args=[rejected.pk]), _form(), follow=True
        )

    assert "nope was sent again; an admin will decide." in response.content.decode()
    rejected.refresh_from_db()
    assert rejected.state == Tenant.State.REQUESTED
    assert rejected.plan.name == "medium" and rejected.display_name == "Second try"
    assert rejected.decided_by is None and rejected.rejection_reason == ""
    # The history keeps the rejection and both versions of the request.
    events = list(
        AuditEvent.objects.filter(
            object_id=str(rejected.pk), action__startswith="tenant."
        ).order_by("id")
    )
    assert [e.action for e in events][-2:] == ["tenant.rejected", "tenant.resubmitted"]
    assert events[-2].message == "Use a larger plan."
    assert events[-1].before["display_name"] == "First try"
    assert events[-1].after["display_name"] == "Second try"
    assert any("nope" in m.subject for m in mail.outbox)  # approvers are told again
    # An approver may now approve it as any request.
    services.tenant_approve(tenant_id=rejected.pk, actor=approver)
    rejected.refresh_from_db()
    assert rejected.state != Tenant.State.REJECTED


def test_a_resubmitted_request_is_checked_like_a_new_one(client, requester, rejected):
    client.force_login(requester)
    response = client.post(
        reverse("tenants:resubmit", args=[rejected.pk]),
        _form(slug="NO", wordpress_version="1.0"),
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "Choose one of the offered versions" in page
    rejected.refresh_from_db()
    assert rejected.state == Tenant.State.REJECTED and rejected.display_name == "First try"


def test_a_name_taken_meanwhile_is_said_and_nothing_changes(client, requester, rejected):
    TenantFactory(slug="nope")  # someone else took the name after the rejection
    client.force_login(requester)
    response = client.post(reverse("tenants:resubmit", args=[rejected.pk]), _form())
    assert response.status_code == 400
    assert "“nope” is already taken" in response.content.decode()
    rejected.refresh_from_db()
    assert rejected.state == Tenant.State.REJECTED


def test_only_a_rejected_request_of_ones_own_can_be_sent_again(
    client, requester, other_requester, rejected
):
    client.force_login(other_requester)
    assert client.get(reverse("tenants:resubmit", args=[rejected.pk])).status_code == 404
    assert client.post(reverse("tenants:resubmit", args=[rejected.pk]), _form()).status_code == 404

    waiting = TenantFactory(owner=requester, slug="waiting")
    client.force_login(requester)
    response = client.post(
        reverse("tenants:resubmit", args=[waiting.pk]), _form(slug="waiting"), follow=True
    )
    assert "Only a rejected request can be edited and sent again" in response.content.decode()
    # A form with a mistake, from a tab left open: not the edit page again, saying that an
    # admin rejected a request that is waiting (or built, or deleted) with an empty reason.
    stale = client.post(reverse("tenants:resubmit", args=[waiting.pk]), _form(slug=""))
    assert stale.status_code == 302 and stale["Location"] == waiting.get_absolute_url()
    assert not AuditEvent.objects.filter(action="tenant.resubmitted").exists()
    with pytest.raises(Exception, match="Only the person who asked"):
        services.tenant_request_resubmit(
            tenant_id=rejected.pk, actor=other_requester, **_form_values()
        )


def _form_values():
    return {
        "slug": "nope",
        "display_name": "x",
        "plan": plan("small"),
        "wordpress_version": "6.8",
        "admin_email": "a@example.com",
    }
