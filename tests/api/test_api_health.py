"""The API's tenant detail says what the page says: its health while serving, and what it
waits for while an outage holds it back; runs name the outage that ended them."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from api.etags import etag_of
from api.serializers import TenantDetailSerializer
from provisioning.models import Run
from tenants.models import Tenant
from tests.factories import TenantFactory, run_ended_by_outage

pytestmark = pytest.mark.django_db

SINCE = timezone.now().replace(microsecond=0) - timedelta(minutes=50)


@pytest.fixture
def held(requester, settings):
    settings.PORTAL_OUTAGE_RETRY_DELAY = 600
    tenant = TenantFactory(owner=requester, slug="held", state=Tenant.State.PROVISIONING)
    run_ended_by_outage(tenant, since=SINCE, minutes_ago=2)
    return tenant


def degraded_tenant(owner) -> Tenant:
    """Ready, its latest drift repair failed on Authentik being away."""
    tenant = TenantFactory(owner=owner, slug="served", state=Tenant.State.READY)
    Run.objects.create(
        tenant=tenant, action=Run.Action.APPLY, reason="approved", status=Run.Status.SUCCEEDED
    )
    Run.objects.create(
        tenant=tenant, action=Run.Action.APPLY, reason="drift", status=Run.Status.FAILED,
        error="The sso step failed: Authentik did not answer",
    )  # fmt: skip
    return tenant


def test_the_detail_shows_the_wait_and_the_runs_the_outage(api_for, held, requester, approver):
    client = api_for(requester)
    body = client.get(reverse("api:tenant-detail", args=[held.pk])).json()
    assert body["health"] is None  # not serving yet
    waiting = body["waiting"]
    assert (waiting["system"], waiting["runs"]) == ("Kubernetes", 1)
    assert waiting["since"].startswith(f"{SINCE:%Y-%m-%dT%H:%M}")
    assert waiting["retry_at"] is not None
    assert "Kubernetes did not answer" in waiting["cause"]
    runs = client.get(reverse("api:tenant-runs", args=[held.pk])).json()["results"]
    assert [r["outage"] for r in runs] == ["Kubernetes"]
    # The list stays light: one query's worth of fields per tenant.
    listed = client.get(reverse("api:tenant-list")).json()["results"]
    assert "waiting" not in listed[0] and "health" not in listed[0]


def test_a_platform_admin_retries_a_waiting_tenant_now(api_for, held, requester, approver):
    refused = api_for(requester).post(reverse("api:tenant-retry", args=[held.pk]))
    assert refused.status_code == 409
    assert refused.json()["detail"] == "Only platform admins can retry a tenant."
    admin = api_for(approver)
    etag = admin.get(reverse("api:tenant-detail", args=[held.pk]))["ETag"]
    done = admin.post(reverse("api:tenant-retry", args=[held.pk]), HTTP_IF_MATCH=etag)
    assert done.status_code == 202, done.content
    assert done.json()["waiting"]["retry_at"] is None  # trying again now
    held.refresh_from_db()
    assert done["ETag"] == etag_of(TenantDetailSerializer(held).data) != etag
    again = admin.post(reverse("api:tenant-retry", args=[held.pk]), HTTP_IF_MATCH=done["ETag"])
    assert again.status_code == 409
    assert again.json()["detail"] == (
        "The portal is trying again right now (waiting for Kubernetes); the page shows how it goes."
    )


def test_a_serving_tenants_health_is_in_the_detail(api_for, requester):
    tenant = degraded_tenant(requester)
    body = api_for(requester).get(reverse("api:tenant-detail", args=[tenant.pk])).json()
    assert body["waiting"] is None
    assert body["health"]["degraded"] is True
    assert body["health"]["since"] is not None
    assert "Authentik did not answer" in body["health"]["cause"]
