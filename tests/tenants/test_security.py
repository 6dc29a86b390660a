"""Markup typed by users is shown as text everywhere; POSTs need a CSRF token."""

import pytest
from django.test import Client
from django.urls import reverse

from tenants.audit import audit_record
from tenants.models import AuditEvent, Tenant
from tests.factories import TenantFactory, plan

SCRIPT = "<script>alert(1)</script>"
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"


@pytest.fixture
def hostile(requester):
    tenant = TenantFactory(owner=requester, slug="xss", display_name=SCRIPT)
    audit_record(action=AuditEvent.Action.TENANT_REQUESTED, actor=requester, obj=tenant,
                 after={"display_name": SCRIPT}, message=SCRIPT)  # fmt: skip
    return tenant


def assert_escaped(response):
    page = response.content.decode()
    assert response.status_code == 200, response.status_code
    assert SCRIPT not in page
    assert ESCAPED in page or "&lt;script&gt;" in page


def test_display_name_is_escaped_on_every_page(client, hostile, requester, approver):
    client.force_login(requester)
    for url in (
        reverse("tenants:list"),
        hostile.get_absolute_url(),
        reverse("tenants:progress", args=[hostile.pk]),
        reverse("tenants:delete", args=[hostile.pk]),
    ):
        response = client.get(url)
        page = response.content.decode()
        assert SCRIPT not in page, url
    assert ESCAPED in client.get(hostile.get_absolute_url()).content.decode()
    client.force_login(approver)
    for url in (
        reverse("tenants:list"),
        reverse("tenants:approvals"),
        reverse("tenants:approval", args=[hostile.pk]),
        reverse("admin:tenants_tenant_changelist"),
        reverse("admin:tenants_tenant_change", args=[hostile.pk]),
        reverse("admin:tenants_auditevent_changelist"),
        reverse(
            "admin:tenants_auditevent_change",
            args=[AuditEvent.objects.get(action="tenant.requested").pk],
        ),
    ):
        assert_escaped(client.get(url))


def test_typed_markup_is_escaped_when_the_form_comes_back(client, requester):
    client.force_login(requester)
    response = client.post(reverse("tenants:request"), {"slug": "x", "display_name": SCRIPT})
    assert response.status_code == 400
    assert SCRIPT not in response.content.decode()


def test_posts_without_csrf_token_are_refused(requester, approver):
    tenant = TenantFactory(slug="guarded")
    client = Client(enforce_csrf_checks=True)
    client.force_login(requester)
    data = {
        "slug": "forged",
        "display_name": "Forged",
        "plan": plan("small").pk,
        "wordpress_version": "6.8",
        "admin_email": "f@example.com",
    }
    assert client.post(reverse("tenants:request"), data).status_code == 403
    assert not Tenant.objects.filter(slug="forged").exists()

    client.force_login(approver)
    url = reverse("tenants:approval", args=[tenant.pk])
    assert client.post(url, {"decision": "approve"}).status_code == 403
    assert Tenant.objects.get(pk=tenant.pk).state == Tenant.State.REQUESTED

    # With the token from the page, the same POST goes through.
    client.get(url)
    token = client.cookies["csrftoken"].value
    response = client.post(url, {"decision": "approve", "csrfmiddlewaretoken": token})
    assert response.status_code == 302


def test_htmx_requests_carry_the_token(client, requester):
    client.force_login(requester)
    page = client.get(reverse("tenants:list")).content.decode()
    assert 'hx-headers=\'{"X-CSRFToken": "' in page
