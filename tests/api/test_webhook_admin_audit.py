"""Webhook endpoints changed or removed in the Django admin are in the audit trail, no secret."""

import pytest

from api.models import WebhookEndpoint
from api.webhooks.addresses import REFUSED
from api.webhooks.services import endpoint_create
from tenants.audit import audit_verify
from tenants.models import AuditEvent
from tests.factories import TenantFactory
from tests.fakes.resolver import PUBLIC, turns

pytestmark = pytest.mark.django_db

LIST = "/admin/api/webhookendpoint/"


def change_page(endpoint) -> str:
    return f"{LIST}{endpoint.pk}/change/"


def form(**fields) -> dict:
    return {
        "url": "https://hooks.example.org/x",
        "description": "",
        "tenant": "",
        "events": '["tenant.ready"]',
        "is_active": "on",
        "deliveries-TOTAL_FORMS": "0",
        "deliveries-INITIAL_FORMS": "0",
        **fields,
    }


@pytest.fixture
def endpoint(approver):
    endpoint, secret = endpoint_create(
        actor=approver, url="https://hooks.example.org/x", events=["tenant.ready"]
    )
    endpoint.secret = secret
    return endpoint


def assert_trail_clean(endpoint) -> None:
    """The chain holds, and neither the secret nor its salt is in any audit row."""
    checked, broken = audit_verify()
    assert checked and broken is None
    every = " ".join(str(v) for row in AuditEvent.objects.values_list() for v in row)
    for secret in (endpoint.secret, endpoint.secret.removeprefix("whsec_"), endpoint.salt):
        assert secret not in every


def test_a_change_in_the_admin_is_audited_with_before_and_after(client_for, approver, endpoint):
    tenant = TenantFactory(slug="shop")
    changed = form(
        url="https://other.example.org/y",
        description="ci",
        tenant=tenant.pk,
        events='["tenant.ready", "tenant.failed"]',
        is_active="",
    )
    page = client_for(approver).post(change_page(endpoint), changed)

    assert page.status_code == 302, page.content.decode()[:2000]
    event = AuditEvent.objects.get(action=AuditEvent.Action.WEBHOOK_CHANGED)
    assert (event.actor_name, event.object_id) == (approver.username, str(endpoint.pk))
    assert event.before == {
        "url": "https://hooks.example.org/x",
        "description": "",
        "tenant": None,
        "events": ["tenant.ready"],
        "is_active": True,
    }
    assert event.after == {
        "url": "https://other.example.org/y",
        "description": "ci",
        "tenant": "shop",
        "events": ["tenant.failed", "tenant.ready"],
        "is_active": False,
    }
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.tenant, endpoint.is_active) == (
        "https://other.example.org/y",
        tenant,
        False,
    )
    assert_trail_clean(endpoint)


def test_a_change_the_service_refuses_is_shown_on_the_page_and_not_saved(
    client_for, approver, endpoint
):
    client = client_for(approver)
    for bad, field_error in [
        ({"events": '["tenant.exploded"]'}, "Unknown event: tenant.exploded."),
        ({"events": "[]"}, "This field is required."),
        ({"url": "http://10.0.0.5/hook"}, REFUSED),
    ]:
        page = client.post(change_page(endpoint), form(**bad))
        assert page.status_code == 200 and field_error in page.content.decode()
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events) == ("https://hooks.example.org/x", ["tenant.ready"])
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.WEBHOOK_CHANGED).exists()


def test_saving_without_a_change_records_nothing(client_for, approver, endpoint):
    assert client_for(approver).post(change_page(endpoint), form()).status_code == 302
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.WEBHOOK_CHANGED).exists()


def test_deleting_on_the_change_page_and_from_the_list_is_audited(client_for, approver, endpoint):
    client = client_for(approver)
    others = [
        endpoint_create(actor=approver, url=f"https://h{n}.example.org/", events=["tenant.ready"])[
            0
        ]
        for n in range(2)
    ]
    page = client.post(f"{LIST}{endpoint.pk}/delete/", {"post": "yes"})
    assert page.status_code == 302
    bulk = {"action": "delete_selected", "_selected_action": [e.pk for e in others], "post": "yes"}
    assert client.post(LIST, bulk).status_code == 302

    assert not WebhookEndpoint.objects.exists()
    deleted = AuditEvent.objects.filter(action=AuditEvent.Action.WEBHOOK_DELETED)
    assert sorted(deleted.values_list("object_id", flat=True)) == sorted(
        str(e.pk) for e in [endpoint, *others]
    )
    assert set(deleted.values_list("actor_name", flat=True)) == {approver.username}
    assert_trail_clean(endpoint)


def test_switching_a_disabled_endpoint_on_counts_failures_from_zero(client_for, approver, endpoint):
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=False, consecutive_failures=5, disabled_reason="HTTP 500"
    )
    assert client_for(approver).post(change_page(endpoint), form()).status_code == 302

    endpoint.refresh_from_db()
    assert (endpoint.is_active, endpoint.consecutive_failures, endpoint.disabled_reason) == (
        True,
        0,
        "",
    )
    event = AuditEvent.objects.get(action=AuditEvent.Action.WEBHOOK_CHANGED)
    assert (event.before["is_active"], event.after["is_active"]) == (False, True)


@pytest.mark.parametrize(
    "third",
    [["10.0.0.5"], [PUBLIC]],
    ids=["still-internal", "public-again"],
)
def test_a_url_the_service_refuses_after_the_form_passed_it_is_shown_on_the_page(
    client_for, approver, endpoint, resolver, third
):
    # The form's lookup finds a public address, the service's own an internal one; whatever
    # the page's next lookup finds, the service's refusal stands.
    turns["hooks.moving.example"] = [[PUBLIC], ["10.0.0.5"], third]

    page = client_for(approver).post(
        change_page(endpoint), form(url="https://hooks.moving.example/x")
    )

    assert page.status_code == 200 and REFUSED in page.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.org/x"
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.WEBHOOK_CHANGED).exists()
