"""The backup schedule through the API: the page's form and sentences, its refusals, audited."""

import pytest
from django.urls import reverse

from tenants.models import AuditEvent, Plan, Tenant
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
        "weekday": None,
        "interval_hours": 24,
        "next_at": None,
        "max_age_hours": 24,
        "overdue": False,
        "words": "Backed up daily at 02:00 UTC; backups are kept 7 days.",
    }
    event = AuditEvent.objects.get(action=AuditEvent.Action.TENANT_BACKUP_SCHEDULE_CHANGED)
    assert (event.before, event.after) == (
        {"frequency": "default", "hour": None, "weekday": ""},
        {"frequency": "daily", "hour": 2, "weekday": ""},
    )
    assert (
        _post(client, tenant, {"frequency": "12h"}, HTTP_IF_MATCH=read["ETag"]).status_code == 412
    )


def test_a_script_chooses_the_day_of_weekly_backups(api_for, requester):
    tenant = TenantFactory(owner=requester, state=Tenant.State.READY)
    Plan.objects.filter(pk=tenant.plan_id).update(backup_max_age_hours=None)
    client = api_for(requester)
    answer = _post(client, tenant, {"frequency": "weekly"})
    assert answer.status_code == 202, answer.content
    assert answer.json()["backup_schedule"]["weekday"] == "sunday"
    answer = _post(client, tenant, {"frequency": "weekly", "hour": 6, "weekday": "friday"})
    schedule = answer.json()["backup_schedule"]
    assert (schedule["weekday"], schedule["interval_hours"]) == ("friday", 168)
    assert schedule["words"].startswith("Backed up weekly on Fridays at 06:00 UTC")
    tenant.refresh_from_db()
    assert tenant.backup_weekday == "friday"


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
            {"frequency": "weekly", "weekday": "sun"},
            400,
            "Choose a day of the week, Monday to Sunday.",
        ),
        (
            {"frequency": "daily", "weekday": "monday"},
            400,
            "A day of the week goes with weekly backups only; leave it empty.",
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
