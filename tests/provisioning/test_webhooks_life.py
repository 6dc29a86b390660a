"""One tenant's whole life through the real services and a real worker's engine runs (the
fake Kubernetes API, MariaDB, moto, the fake Authentik): a receiver on loopback hears every
event, in order, each signed as Standard Webhooks says (checked with its reference library)."""

import json
import uuid

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from api.models import WebhookDelivery
from api.webhooks.events import EVENT_TYPES
from api.webhooks.services import endpoint_create
from provisioning.models import Run
from tenants import services, suspension
from tenants.models import AuditEvent, Tenant
from tests.factories import plan
from tests.fakes.webhook_receiver import Receiver
from tests.provisioning.cluster import wait_cluster_state
from tests.workers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _settled(tenant, platform, kube_api, runs: int) -> None:
    """The tenant's `runs`-th run is done and the tenant is ready (or failed) again."""

    def reached():
        kube_api.mark_ready()  # the cluster's controllers roll out what was applied
        tenant.refresh_from_db()
        done = tenant.runs.exclude(status__in=Run.OPEN).count()
        return done == runs and tenant.state in (Tenant.State.READY, Tenant.State.FAILED)

    wait_until(reached, 120, f"run {runs} to end", platform.logs)
    assert tenant.state == Tenant.State.READY, tenant.last_error


def test_a_receiver_hears_a_tenants_whole_life_in_order_and_signed(
    requester, approver, platform, kube_api, authentik_api, loopback_receivers
):
    with Receiver() as receiver:
        _, secret = endpoint_create(actor=approver, url=receiver.url, events=EVENT_TYPES)
        # The worker delivers: it allows loopback too, told through its environment.
        platform("w1", PORTAL_TEST_WEBHOOK_ALLOWED_NETWORKS="127.0.0.0/8")

        tenant = services.tenant_request_submit(
            owner=requester,
            slug=f"hook-{uuid.uuid4().hex[:6]}",
            display_name="Hooked",
            plan=plan("small"),
            wordpress_version="6.8",
            admin_email="owner@example.com",
        )
        services.tenant_approve(tenant_id=tenant.pk, actor=approver)
        _settled(tenant, platform, kube_api, runs=1)
        suspension.tenant_suspend(tenant=tenant, actor=requester)
        _settled(tenant, platform, kube_api, runs=2)
        assert kube_api.get("Deployment", "wordpress", tenant.namespace)["spec"]["replicas"] == 0
        suspension.tenant_resume(tenant=tenant, actor=requester)
        _settled(tenant, platform, kube_api, runs=3)
        services.tenant_delete(tenant=tenant, actor=requester)
        wait_cluster_state(tenant, {Tenant.State.DELETED, Tenant.State.FAILED}, platform, kube_api)
        assert tenant.state == Tenant.State.DELETED, tenant.last_error

        expected = [
            "tenant.requested",
            "tenant.approved",
            "tenant.ready",
            "tenant.suspended",
            "tenant.ready",  # the suspending run ends
            "tenant.resumed",
            "tenant.ready",
            "tenant.deleted",
        ]
        wait_until(
            lambda: len(receiver.requests) >= len(expected), 30, "the deliveries", platform.logs
        )

    # Every webhook event of the audit trail, as it was written, and nothing else.
    audited = list(
        AuditEvent.objects.filter(
            object_type="tenant", object_id=str(tenant.pk), action__in=EVENT_TYPES
        )
        .order_by("id")
        .values_list("id", "action")
    )
    assert [action for _, action in audited] == expected
    assert receiver.events() == expected
    verifier = Webhook(secret)
    bodies = [verifier.verify(body, headers) for headers, body in receiver.requests]
    assert [b["data"]["audit_event_id"] for b in bodies] == [pk for pk, _ in audited]
    assert {b["data"]["tenant"]["slug"] for b in bodies} == {tenant.slug}
    assert bodies[2]["data"]["tenant"]["state"] == "ready"
    assert len({headers["webhook-id"] for headers, _ in receiver.requests}) == len(expected)
    assert set(WebhookDelivery.objects.values_list("status", "attempts")) == {("delivered", 1)}
    # A body changed on the way fails the reference library's check.
    headers, body = receiver.requests[0]
    tampered = json.dumps({**json.loads(body), "type": "tenant.deleted"}).encode()
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        verifier.verify(tampered, headers)
