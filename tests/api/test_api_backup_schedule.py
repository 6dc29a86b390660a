"""The backup schedule through the API: the page's form and sentences, its refusals, audited."""

import pytest
from django.urls import reverse

from tenants.models import AuditEvent, Tenant
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db


def _post(client, tenant, body, **headers):
    url = reverse("api:tenant-backup-schedule", args=[tenant.pk])
    return client.post(url, body, format="json", **headers)


def test_a_script_reads_and_chooses_the_schedule(api_for, requester):
    tenant = TenantFactory(owner=requester, state=Tenant.State.READY)
    client = api_for(requester)
    read = client.get(reverse("api:tenant-detail", args=[tenant.pk]))
    schedule = read.json()["backup_schedule"]
    assert schedule["frequency"] == "default" and schedule["interval_hours"] == 24
    assert schedule["max_age_hours"] == 24 and schedule["overdue"] is False
    assert schedule["next_at"] is not None  # none taken yet: at once

    answer = _post(client, tenant, {"frequency": "daily", "hour": 2}, HTTP_IF_MATCH=read["ETag"])
    assert answer.status_code == 202, answer.content
    assert answer.json()["backup_schedule"] | {"next_at": None} == {
        "frequency": "daily",
        "hour": 2,
        "interval_hours": 24,
        "next_at": None,
        "max_age_hours": 24,
        "overdue": False,
        "words": "Backed up daily at 02:00 UTC; backups are kept 7 days.",
    }
    event = AuditEvent.objects.get(action=AuditEvent.Action.TENANT_BACKUP_SCHEDULE_CHANGED)
    assert (event.before, event.after) == (
        {"frequency": "default", "hour": None},
        {"frequency": "daily", "hour": 2},
    )
    assert (
        _post(client, tenant, {"frequency": "12h"}, HTTP_IF_MATCH=read["ETag"]).status_code == 412
    )


@pytest.mark.parametrize(
    ("body", "code", "detail"),
    [
        ({"frequency": "hourly"}, 400, "Choose one of the listed frequencies."),
        ({}, 400, "Choose how often to back up."),
        ({"frequency": "daily", "hour": 31}, 400, "Choose an hour from 0 to 23 (UTC), or none."),
        (
            {"frequency": "weekly"},
            409,
            "Backups weekly (168 hours apart) are too far apart: the Small plan promises a good "
            "backup at least every 24 hours. Choose a schedule at most that far apart.",
        ),
        (
            {"frequency": "off"},
            409,
            "Scheduled backups can't be switched off: the Small plan promises a good backup at "
            "least every 24 hours.",
        ),
        (
            {"frequency": "12h", "hour": 5},
            400,
            "An hour of the day goes with daily or weekly backups only; leave it empty.",
        ),
    ],
)
def test_refusals_say_why(api_for, requester, body, code, detail):
    tenant = TenantFactory(owner=requester, state=Tenant.State.READY)
    answer = _post(api_for(requester), tenant, body)
    assert answer.status_code == code, answer.content
    assert answer.json()["detail"] == detail
    tenant.refresh_from_db()
    assert tenant.backup_frequency == "default"


def test_not_ready_someone_elses_and_auditors_are_refused(
    api_for, requester, other_requester, auditor
):
    request = TenantFactory(owner=requester)  # still a request
    answer = _post(api_for(requester), request, {"frequency": "12h"})
    assert answer.status_code == 409
    assert answer.json()["detail"].startswith("Only a ready tenant can be given another backup")
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.TENANT_REFUSED, object_id=str(request.pk)
    ).exists()
    ready = TenantFactory(owner=requester, state=Tenant.State.READY)
    assert _post(api_for(other_requester), ready, {"frequency": "12h"}).status_code == 404
    assert _post(api_for(auditor), ready, {"frequency": "12h"}).status_code == 403
    ready.refresh_from_db()
    assert ready.backup_frequency == "default"
