"""The admin lists' date drill-down: the same years, months and days, without a DISTINCT."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tenants.admindates import drill_down
from tenants.models import AuditEvent, Tenant
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

# Around new year and midnight in UTC, so a zone east of it puts some in another period; a
# year without any (2024) between two with some.
MOMENTS = [
    datetime(2023, 3, 5, 10, tzinfo=UTC),
    datetime(2023, 12, 31, 23, 30, tzinfo=UTC),
    datetime(2025, 1, 31, 23, 30, tzinfo=UTC),
    datetime(2025, 2, 1, 8, tzinfo=UTC),
    datetime(2025, 2, 14, 12, tzinfo=UTC),
]


def _events():
    AuditEvent.objects.bulk_create(
        AuditEvent(
            created_at=at, action=AuditEvent.Action.USER_LOGIN, object_type="user", hash=f"h{i}"
        )
        for i, at in enumerate(MOMENTS)
    )


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/New_York"])
@pytest.mark.parametrize(
    "kind,where",
    [("year", {}), ("month", {"created_at__year": 2025}), ("day", {"created_at__month": 2})],
)
def test_the_periods_are_those_distinct_finds(zone, kind, where):
    _events()
    with timezone.override(zone):
        plain = AuditEvent.objects.filter(**where)
        want = list(plain.datetimes("created_at", kind))
        with CaptureQueriesContext(connection) as ran:
            got = drill_down(plain).datetimes("created_at", kind)
    assert got == want and want
    assert len(ran) == 2  # the first and last row, then one EXISTS per period
    assert all("DISTINCT" not in q["sql"] for q in ran)


def test_an_empty_list_has_no_periods():
    assert drill_down(AuditEvent.objects.all()).datetimes("created_at", "year") == []


def test_the_lists_drill_down_by_year_month_and_day(client, auditor):
    _events()
    TenantFactory()
    Tenant.objects.update(created_at=datetime(2025, 2, 14, 12, tzinfo=UTC))
    client.force_login(auditor)
    url = reverse("admin:tenants_auditevent_changelist")
    with CaptureQueriesContext(connection) as ran:
        page = client.get(url).content.decode()
    assert "?created_at__year=2023" in page and "?created_at__year=2025" in page
    assert "created_at__year=2024" not in page
    assert [q["sql"] for q in ran if "DISTINCT" in q["sql"]] == []
    page = client.get(url, {"created_at__year": 2025}).content.decode()
    assert "created_at__month=1" in page and "created_at__month=2" in page
    page = client.get(url, {"created_at__year": 2025, "created_at__month": 2}).content.decode()
    assert "created_at__day=1&" in page and "created_at__day=14" in page
    # One tenant: the hierarchy starts at its day's month, listing that one day.
    page = client.get(reverse("admin:tenants_tenant_changelist")).content.decode()
    assert "created_at__day=14" in page and "created_at__day=13" not in page
