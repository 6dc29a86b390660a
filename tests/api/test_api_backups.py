"""Backup and restore through the API against real MariaDB and S3 on loopback (moto)."""

import pytest
from django.urls import reverse

from api.etags import etag_of
from api.serializers import TenantDetailSerializer
from tenants import backups
from tenants.models import Backup
from tests.tenants.test_backups import site  # noqa: F401  (a ready tenant with data)

pytestmark = pytest.mark.django_db


def _post(client, name, tenant, body, **headers):
    url = reverse(f"api:tenant-{name}", args=[tenant.pk])
    return client.post(url, body, format="json", **headers)


def test_a_script_backs_up_lists_and_restores(
    site,  # noqa: F811  (the fixture imported above)
    api_for,
    requester,
    django_capture_on_commit_callbacks,
):
    tenant, *_ = site
    client = api_for(requester)
    read = client.get(reverse("api:tenant-detail", args=[tenant.pk]))

    with django_capture_on_commit_callbacks() as queued:
        started = _post(client, "backup", tenant, {}, HTTP_IF_MATCH=read["ETag"])
    assert started.status_code == 202, started.content
    assert len(queued) == 1
    item = backups.backup_take(tenant.backups.get().pk)  # what the worker runs
    assert item.state == Backup.State.DONE, item.error

    listed = client.get(reverse("api:tenant-backups", args=[tenant.pk])).json()["results"]
    assert [(b["id"], b["state"]) for b in listed] == [(item.pk, "done")]
    assert item.prefix not in str(listed), "where it sits in the bucket stays inside"

    body = {"backup": item.pk, "confirm_slug": f" {tenant.slug}\n"}  # a paste's spaces forgiven
    etag = {"HTTP_IF_MATCH": etag_of(TenantDetailSerializer(tenant).data)}
    with django_capture_on_commit_callbacks() as queued:
        restoring = _post(client, "restore", tenant, body, **etag)
    assert restoring.status_code == 202, restoring.content
    assert len(queued) == 1
    tenant.refresh_from_db()
    assert tenant.restoring
    again = _post(client, "restore", tenant, body, HTTP_IF_MATCH=restoring["ETag"])
    assert again.status_code == 409
    assert again.json()["detail"] == "A restore of this tenant is already under way."
