"""Webhooks in one process: each event is signed, only the tenant events are sent, a failing
receiver gets retries, recorded in the delivery log, and is disabled after the limit (a whole
life through a real worker: tests/provisioning/test_webhooks_life.py)."""

import json
import time

import pytest
from django.core import mail
from django.core.exceptions import ValidationError

from api.models import WebhookDelivery, WebhookEndpoint
from api.webhooks import delivery, signing
from api.webhooks.events import EVENT_TYPES
from api.webhooks.services import endpoint_create, endpoint_delete, endpoint_enable
from portal.errors import ApplicationError
from tenants import services
from tenants.audit import audit_record
from tenants.models import AuditEvent, Tenant
from tests.factories import TenantFactory
from tests.fakes.webhook_receiver import Receiver
from tests.smtp import FlakyBackend

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver(loopback_receivers):
    with Receiver() as r:
        yield r


@pytest.fixture
def hooks(settings, eager_celery, django_capture_on_commit_callbacks):
    settings.PORTAL_WEBHOOK_RETRY_BASE = 0.01
    settings.PORTAL_WEBHOOK_ATTEMPTS = 3
    settings.PORTAL_WEBHOOK_DISABLE_AFTER = 2
    # Eager Celery runs a retry at once, inside apply(), unless the Retry is propagated.
    eager_celery.conf.task_eager_propagates = False

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


def test_each_tenant_event_is_signed_and_other_events_are_not_sent(
    hooks, receiver, approver, requester
):
    tenant = TenantFactory(owner=requester, state=Tenant.State.REQUESTED)
    endpoint, secret = endpoint_create(actor=approver, url=receiver.url, events=EVENT_TYPES)
    assert secret.startswith("whsec_")

    hooks(audit_record, action=AuditEvent.Action.TENANT_REQUESTED, actor=requester, obj=tenant)
    hooks(services.tenant_approve, tenant_id=tenant.pk, actor=approver)
    Tenant.objects.filter(pk=tenant.pk).update(state=Tenant.State.READY)
    hooks(audit_record, action=AuditEvent.Action.TENANT_READY, obj=tenant)
    hooks(audit_record, action=AuditEvent.Action.TENANT_DRIFT, obj=tenant)  # not a webhook event
    hooks(audit_record, action=AuditEvent.Action.TENANT_BACKED_UP, obj=tenant)

    assert receiver.events()[:1] == ["tenant.requested"]
    assert "tenant.approved" in receiver.events()
    assert receiver.events()[-2:] == ["tenant.ready", "tenant.backed_up"]
    for headers, body in receiver.requests:
        assert signing.verify(secret=secret, headers=headers, body=body)
        assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
        assert json.loads(body)["data"]["tenant"]["slug"] == tenant.slug
    tampered = receiver.requests[0][1].replace(b"tenant", b"tenanT")
    assert not signing.verify(secret=secret, headers=receiver.requests[0][0], body=tampered)
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_the_secret_is_in_no_row(approver, receiver):
    endpoint, secret = endpoint_create(actor=approver, url=receiver.url, events=["tenant.ready"])
    stored = " ".join(str(v) for v in WebhookEndpoint.objects.values_list().get())
    key = secret.removeprefix("whsec_")
    assert key not in stored and secret not in stored


def test_a_failing_receiver_gets_retries_and_is_disabled(hooks, receiver, approver, mailoutbox):
    receiver.status = 500
    tenant = TenantFactory(state=Tenant.State.READY)
    endpoint, _ = endpoint_create(actor=approver, url=receiver.url, events=["tenant.ready"])

    hooks(audit_record, action=AuditEvent.Action.TENANT_READY, obj=tenant)

    assert len(receiver.requests) == 3  # PORTAL_WEBHOOK_ATTEMPTS
    assert len({h["webhook-id"] for h, _ in receiver.requests}) == 1  # the same message
    row = WebhookDelivery.objects.get()
    assert (row.status, row.attempts, row.response_status) == ("failed", 3, 500)
    assert row.last_error == "The receiver answered 500."
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.consecutive_failures == 1

    hooks(audit_record, action=AuditEvent.Action.TENANT_READY, obj=tenant)
    endpoint.refresh_from_db()
    assert not endpoint.is_active and "2 deliveries in a row failed" in endpoint.disabled_reason
    assert [m.subject for m in mailoutbox] == ["Webhook endpoint disabled"]
    hooks(audit_record, action=AuditEvent.Action.TENANT_READY, obj=tenant)
    assert len(receiver.requests) == 6  # a disabled endpoint hears nothing more

    receiver.status = 200
    hooks(delivery.resend, row)  # from the admin, after the receiver was fixed
    row.refresh_from_db()
    assert row.status == "pending"  # the endpoint is still off


def test_an_unreachable_receiver_is_recorded(hooks, approver, loopback_receivers):
    tenant = TenantFactory(state=Tenant.State.READY)
    endpoint_create(actor=approver, url="http://127.0.0.1:9/nothing", events=["tenant.ready"])
    hooks(audit_record, action=AuditEvent.Action.TENANT_READY, obj=tenant)
    row = WebhookDelivery.objects.get()
    assert row.status == "failed" and row.last_error.startswith("Could not reach the receiver")


def test_owners_register_for_their_own_tenants_only(requester, other_requester, receiver):
    mine = TenantFactory(owner=requester)
    endpoint_create(actor=requester, url=receiver.url, events=["tenant.ready"], tenant=mine)
    with pytest.raises(ApplicationError, match="only for tenants you own"):
        endpoint_create(actor=other_requester, url=receiver.url, events=["x"], tenant=mine)
    with pytest.raises(ApplicationError, match="Only platform admins"):
        endpoint_create(actor=requester, url=receiver.url, events=["tenant.ready"])


def test_an_owners_endpoint_hears_only_its_tenant(hooks, receiver, requester):
    mine, other = TenantFactory(owner=requester), TenantFactory()
    endpoint_create(actor=requester, url=receiver.url, events=["tenant.ready"], tenant=mine)
    hooks(audit_record, action=AuditEvent.Action.TENANT_READY, obj=other)
    hooks(audit_record, action=AuditEvent.Action.TENANT_READY, obj=mine)
    assert [json.loads(b)["data"]["tenant"]["id"] for _, b in receiver.requests] == [mine.pk]


@pytest.mark.parametrize(
    "url, events, field",
    [
        ("ftp://example.org/x", ["tenant.ready"], "url"),
        ("not a url", ["tenant.ready"], "url"),
        ("https://example.org/x", [], "events"),
        ("https://example.org/x", ["tenant.exploded"], "events"),
    ],
)
def test_bad_input_is_refused_by_field(approver, url, events, field):
    with pytest.raises(ValidationError) as exc:
        endpoint_create(actor=approver, url=url, events=events)
    assert field in exc.value.message_dict


def test_the_admin_shows_the_secret_once_and_lists_deliveries(client_for, approver, receiver):
    client = client_for(approver)
    response = client.post(
        "/admin/api/webhookendpoint/add/",
        {"url": receiver.url, "description": "ci", "events": ["tenant.ready", "tenant.failed"]},
    )
    assert response.status_code == 200
    secret = response.context["secret"]
    assert secret in response.content.decode()
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.events == ["tenant.failed", "tenant.ready"]
    page = client.get(f"/admin/api/webhookendpoint/{endpoint.pk}/change/").content.decode()
    assert secret not in page and secret.removeprefix("whsec_") not in page
    bad = client.post("/admin/api/webhookendpoint/add/", {"url": "ftp://x", "events": []})
    assert bad.status_code == 200 and b"errorlist" in bad.content
    assert client.get("/admin/api/webhookdelivery/").status_code == 200


def test_metrics_count_deliveries_by_outcome(hooks, receiver, approver, client, settings):
    settings.PORTAL_METRICS_TOKEN = "t0ken-for-metrics"
    endpoint_create(actor=approver, url=receiver.url, events=["tenant.ready"])
    hooks(audit_record, action=AuditEvent.Action.TENANT_READY, obj=TenantFactory())
    text = client.get("/metrics", HTTP_AUTHORIZATION="Bearer t0ken-for-metrics").content.decode()
    assert 'portal_webhook_deliveries_total{outcome="delivered"} 1.0' in text
    assert "portal_webhook_endpoints_disabled 0.0" in text


def test_admins_resend_from_the_admin_and_auditors_only_read(
    hooks, client_for, approver, auditor, receiver
):
    receiver.status = 500
    endpoint_create(actor=approver, url=receiver.url, events=["tenant.ready"])
    hooks(audit_record, action=AuditEvent.Action.TENANT_READY, obj=TenantFactory())
    row = WebhookDelivery.objects.get()
    assert row.status == "failed"
    receiver.status = 200
    form = {"action": "resend", "_selected_action": [row.pk]}
    reader = client_for(auditor)
    assert reader.get("/admin/api/webhookdelivery/").status_code == 200
    hooks(reader.post, "/admin/api/webhookdelivery/", form)
    row.refresh_from_db()
    assert row.status == "failed"
    hooks(client_for(approver).post, "/admin/api/webhookdelivery/", form)
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("delivered", 4)


def test_register_disable_enable_and_remove_are_audited(hooks, receiver, approver):
    receiver.status = 500
    endpoint, secret = endpoint_create(actor=approver, url=receiver.url, events=["tenant.ready"])
    tenant = TenantFactory(state=Tenant.State.READY)
    for _ in range(2):  # PORTAL_WEBHOOK_DISABLE_AFTER
        hooks(audit_record, action=AuditEvent.Action.TENANT_READY, obj=tenant)
    endpoint_enable(actor=approver, endpoint=endpoint)
    endpoint_delete(actor=approver, endpoint=endpoint)

    trail = list(
        AuditEvent.objects.filter(object_type="webhookendpoint")
        .order_by("id")
        .values_list("action", "actor_name")
    )
    assert trail == [
        ("webhook.created", approver.username),
        ("webhook.disabled", "system"),
        ("webhook.enabled", approver.username),
        ("webhook.deleted", approver.username),
    ]
    every = " ".join(str(v) for row in AuditEvent.objects.values_list() for v in row)
    assert secret.removeprefix("whsec_") not in every


def test_the_disabled_mail_is_tried_again_while_the_server_refuses_and_sent_once(
    approver, receiver, settings
):
    from api.tasks import webhook_disabled_mail
    from tenants.models import MailSent

    settings.EMAIL_BACKEND = "tests.smtp.FlakyBackend"
    FlakyBackend.failures, FlakyBackend.tries = 2, 0
    endpoint, _ = endpoint_create(actor=approver, url=receiver.url, events=["tenant.ready"])
    event = audit_record(action=AuditEvent.Action.WEBHOOK_DISABLED, obj=endpoint, message="dead")
    # As a worker runs it: each refusal retries the task (apply runs the retries in turn).
    webhook_disabled_mail.apply((event.pk,), throw=False)
    assert FlakyBackend.tries == 3
    [sent] = mail.outbox
    assert sent.subject == "Webhook endpoint disabled" and sent.to == ["carol@example.com"]
    assert MailSent.objects.filter(kind="webhook_disabled").count() == 1
    webhook_disabled_mail.apply((event.pk,))  # delivered twice: no second mail
    assert len(mail.outbox) == 1
