"""The audit trail in the Django admin as auditors read it: names, zones, the whole export."""

import csv
import io
import re
import sqlite3

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tenants import selectors
from tenants.audit import audit_record
from tenants.models import AuditEvent
from tests.factories import TenantFactory


def _events(n: int, tenant=None):
    for i in range(n):
        audit_record(action=AuditEvent.Action.USER_LOGIN, actor_name=f"user{i}", obj=tenant)


def test_the_list_shows_action_names_times_with_their_zone_and_whole_messages(client, auditor):
    audit_record(action=AuditEvent.Action.USER_LOGIN, actor_name="ann", message="x" * 900)
    client.force_login(auditor)
    page = client.get(reverse("admin:tenants_auditevent_changelist")).content.decode()

    assert "Signed in" in page and ">user.login<" not in page
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC<", page)
    assert "x" * 900 in page  # the whole message, wrapped by portal/admin.css
    assert "portal/admin.css" in page


def test_the_actor_filter_offers_each_name_once_in_order_without_a_distinct(client, auditor):
    for name in ("zoe", "ann", "zoe", "Bob", "ann", "zoe"):
        audit_record(action=AuditEvent.Action.USER_LOGIN, actor_name=name)
    client.force_login(auditor)
    url = reverse("admin:tenants_auditevent_changelist")
    with CaptureQueriesContext(connection) as ran:
        response = client.get(url)
    (actors,) = [f for f in response.context["cl"].filter_specs if f.title == "actor name"]
    offered = [c["display"] for c in actors.choices(response.context["cl"])][1:]  # after "All"
    names = AuditEvent.objects.order_by("actor_name").values_list("actor_name", flat=True)
    assert offered == list(names.distinct())  # the database's order, as Django's own filter
    assert offered.count("zoe") == 1 and "Bob" in offered
    assert [q["sql"] for q in ran if "DISTINCT" in q["sql"]] == []
    chosen = client.get(url, {"actor_name": "zoe"}).context["cl"].result_list
    assert {e.actor_name for e in chosen} == {"zoe"} and len(chosen) == 3


def test_the_actor_filter_query_runs_on_sqlite_as_the_embedded_mode_has_it():
    # run.sh's portal keeps its audit trail in SQLite; the trail's admin list asked it a query
    # SQLite can't parse, so the page answered 500 there (the tests' PostgreSQL took it).
    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE tenants_auditevent (id INTEGER PRIMARY KEY, actor_name TEXT)")
    db.execute("CREATE INDEX actor ON tenants_auditevent (actor_name)")
    assert db.execute(selectors._ACTOR_NAMES).fetchall() == []
    for name in ("zoe", "ann", "zoe", "Bob", "ann", ""):
        db.execute("INSERT INTO tenants_auditevent (actor_name) VALUES (?)", (name,))
    names = [name for (name,) in db.execute(selectors._ACTOR_NAMES)]
    assert names == ["", "Bob", "ann", "zoe"]  # each once, in the database's order


def test_export_takes_every_filtered_event_not_one_page(client, auditor):
    client.force_login(auditor)  # itself a "user.login" event
    _events(103)
    audit_record(action=AuditEvent.Action.USER_LOGOUT, actor_name="someone")
    listing = client.get(
        reverse("admin:tenants_auditevent_changelist"), {"action__exact": "user.login"}
    ).content.decode()
    assert "Export these 104 events as CSV" in listing

    response = client.get(
        reverse("admin:tenants_auditevent_export"), {"action__exact": "user.login"}
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert response.status_code == 200
    assert len(rows) == 1 + 104 and {r[5] for r in rows[1:]} == {"user.login"}


def test_a_requester_cannot_export(client, requester):
    client.force_login(requester)
    response = client.get(reverse("admin:tenants_auditevent_export"))
    assert response.status_code == 302  # to the admin's sign-in: not staff


def test_the_tenant_page_links_auditors_to_its_events(client, auditor, requester):
    tenant = TenantFactory(owner=requester)
    client.force_login(auditor)
    _events(2, tenant=tenant)
    page = client.get(tenant.get_absolute_url()).content.decode()
    link = f"?object_type=tenant&amp;object_id={tenant.pk}"
    assert link in page
    listing = client.get(
        reverse("admin:tenants_auditevent_changelist"),
        {"object_type": "tenant", "object_id": tenant.pk},
    ).content.decode()
    assert "Export these 2 events as CSV" in listing

    client.force_login(requester)
    assert link not in client.get(tenant.get_absolute_url()).content.decode()


def test_an_events_page_names_its_action_and_gives_the_time_zone(client, auditor):
    event = audit_record(action=AuditEvent.Action.USER_LOGIN, actor_name="ann")
    client.force_login(auditor)
    page = client.get(reverse("admin:tenants_auditevent_change", args=[event.pk])).content.decode()
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC ann: Signed in", page)
    assert "user.login" not in page
    assert 'name="_save"' not in page
