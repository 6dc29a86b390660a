"""The Django admin: plans editable by platform admins, the audit trail read and exported."""

import csv
import io
from datetime import UTC, datetime

from django.urls import reverse

from tenants.audit import audit_record
from tenants.models import AuditEvent, Plan, Tenant
from tests.factories import TenantFactory, plan


def plan_form(p: Plan, **changes) -> dict:
    data = {
        f.name: getattr(p, f.name)
        for f in Plan._meta.fields
        if f.name not in ("id", "is_active") and getattr(p, f.name) is not None
    }
    data["is_active"] = "on" if p.is_active else ""
    data.update(changes)
    return data


def test_platform_admin_edits_a_plan_and_it_is_audited(client, approver):
    small = plan("small")
    client.force_login(approver)
    url = reverse("admin:tenants_plan_change", args=[small.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, plan_form(small, storage_gib=8))
    assert response.status_code == 302
    small.refresh_from_db()
    assert small.storage_gib == 8
    event = AuditEvent.objects.get(action="plan.changed")
    assert (event.before["storage_gib"], event.after["storage_gib"]) == (5, 8)
    assert event.actor_name == "carol"


def test_plan_rules_show_in_the_admin_form(client, approver):
    small = plan("small")
    client.force_login(approver)
    url = reverse("admin:tenants_plan_change", args=[small.pk])
    response = client.post(
        url, plan_form(small, cpu_limit_millicores=100, memory_limit_mib=128, max_pods=2)
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "The CPU limit can&#x27;t be below the CPU request." in page
    assert "The memory limit can&#x27;t be below the memory request." in page
    assert "Allow at least two pods more than the WordPress replicas." in page
    small.refresh_from_db()
    assert small.cpu_limit_millicores == 500


def test_requesters_and_auditors_cannot_edit_plans(client, requester, auditor):
    small = plan("small")
    url = reverse("admin:tenants_plan_change", args=[small.pk])
    client.force_login(requester)
    assert client.get(url).status_code == 302  # not staff: sent to the admin's sign-in
    client.force_login(auditor)
    assert client.post(url, plan_form(small, storage_gib=99)).status_code == 403
    small.refresh_from_db()
    assert small.storage_gib == 5


def test_auditor_filters_searches_and_exports_csv(client, auditor, requester):
    audit_record(
        action=AuditEvent.Action.TENANT_REQUESTED, actor=requester, message="=HYPERLINK(1)"
    )
    audit_record(action=AuditEvent.Action.USER_LOGIN_FAILED, actor_name="mallory")
    client.force_login(auditor)
    url = reverse("admin:tenants_auditevent_changelist")

    def rows(**params):
        return [e.pk for e in client.get(url, params).context["cl"].result_list]

    assert len(rows(action__exact="user.login_failed")) == 1
    assert len(rows(actor_name="mallory")) == 1
    assert len(rows(q="HYPERLINK")) == 1
    assert rows(created_at__year="1999") == []
    page = client.get(url).content.decode()
    for text in ("By action", "By actor name", "By created at"):
        assert text in page

    ids = list(AuditEvent.objects.values_list("pk", flat=True))
    response = client.post(url, {"action": "export_csv", "_selected_action": ids, "index": 0})
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="audit-events.csv"'
    body = b"".join(response.streaming_content).decode()
    table = list(csv.DictReader(io.StringIO(body)))
    by_action = {row["action"]: row for row in table}
    assert by_action["tenant.requested"]["actor_name"] == "alice"
    # A cell a spreadsheet would run as a formula is defused.
    assert by_action["tenant.requested"]["message"] == "'=HYPERLINK(1)"
    assert by_action["user.login_failed"]["actor_name"] == "mallory"
    assert all(len(row["hash"]) == 64 for row in table)


def test_audit_admin_has_no_add_or_delete_buttons(client, approver):
    client.force_login(approver)
    page = client.get(reverse("admin:tenants_auditevent_changelist")).content.decode()
    assert reverse("admin:tenants_auditevent_add") not in page
    assert "Delete selected" not in page


def test_the_tenant_list_gives_creation_times_with_their_zone_newest_first(client, auditor):
    old = TenantFactory(slug="old-site")
    TenantFactory(slug="new-site")
    Tenant.objects.filter(pk=old.pk).update(created_at=datetime(2025, 2, 14, 12, 5, tzinfo=UTC))
    client.force_login(auditor)
    url = reverse("admin:tenants_tenant_changelist")
    page = client.get(url).content.decode()
    assert "2025-02-14 12:05 UTC<" in page
    assert page.index("new-site") < page.index("old-site")
    # The column still sorts by the time itself.
    column = client.get(url).context["cl"].list_display.index("created")
    listed = client.get(url, {"o": str(column)}).context["cl"].result_list
    assert [t.slug for t in listed] == ["old-site", "new-site"]
