"""Cloning through the API: the page's service, limits and sentences; 201 with the clone."""

import pytest
from django.urls import reverse

from tenants.models import AuditEvent, Tenant
from tests.factories import TenantFactory
from tests.tenants.test_backups import site  # noqa: F401  (a ready tenant with data)

pytestmark = pytest.mark.django_db


def test_a_script_clones_a_tenant_and_reads_the_pages_refusals(
    site,  # noqa: F811  (the fixture imported above)
    api_for,
    requester,
):
    tenant, *_ = site
    client = api_for(requester)
    url = reverse("api:tenant-clone", args=[tenant.pk])
    read = client.get(reverse("api:tenant-detail", args=[tenant.pk]))

    made = client.post(url, {"slug": "", "backup": None}, format="json", HTTP_IF_MATCH=read["ETag"])
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["clone_of"] == tenant.pk and body["state"] == Tenant.State.REQUESTED
    assert body["slug"] == f"{tenant.slug}-staging" and body["owner"] == requester.username
    assert made["Location"].endswith(reverse("api:tenant-detail", args=[body["id"]]))
    assert AuditEvent.objects.filter(action="tenant.clone_requested").count() == 1

    again = client.post(url, {}, format="json")
    assert again.status_code == 400
    assert "is already taken" in again.json()["errors"]["slug"][0]
    long = client.post(url, {"slug": "y" * 70}, format="json")
    assert long.json()["errors"]["slug"] == ["Use 3 to 30 characters."]  # not "at most 60"
    stale = client.post(url, {"slug": "other-one"}, format="json", HTTP_IF_MATCH='"stale"')
    assert stale.status_code == 412
    waiting = TenantFactory(owner=requester)
    refused = client.post(reverse("api:tenant-clone", args=[waiting.pk]), {}, format="json")
    assert refused.status_code == 409
    assert refused.json()["detail"].startswith("Only a ready tenant can be cloned")
