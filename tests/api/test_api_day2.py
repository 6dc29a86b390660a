"""The tenant's day-2 actions over the API: the pages' services, sentences and checks."""

import json
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from api.etags import etag_of
from api.serializers import TenantDetailSerializer
from tenants.models import AuditEvent, Backup, Tenant, UsageSample
from tests.factories import TenantFactory, plan


def _etag(tenant) -> dict:
    return {"HTTP_IF_MATCH": etag_of(TenantDetailSerializer(tenant).data)}


def _post(client, name, tenant, data, **headers):
    url = reverse(f"api:tenant-{name}", args=[tenant.pk])
    body = data if isinstance(data, str) else json.dumps(data)
    return client.post(url, body, content_type="application/json", **headers)


def _done_backup(tenant) -> Backup:
    return Backup.objects.create(
        tenant=tenant,
        state=Backup.State.DONE,
        finished_at=timezone.now(),
        prefix=f"backups/{tenant.slug}/20261203T000000/",
        size_bytes=1234,
        wordpress_version="6.8",
    )


# action -> (the page's POST data, the API's body) for a tenant; the page names the plan by id
# and the backup in its URL, the API the plan by name and the backup in the body.
def _inputs(action: str, tenant):
    if action == "plan":
        other = plan("medium")
        return {"plan": other.pk}, {"plan": other.name}
    if action == "restore":
        item = _done_backup(tenant)
        return {"confirm_slug": tenant.slug}, {"backup": item.pk, "confirm_slug": tenant.slug}
    if action == "upgrade":
        return {"version": "6.9"}, {"version": "6.9"}
    if action == "suspend":
        return {"reason": ""}, {"reason": ""}
    if action == "decline_plan":
        return {"decision": "decline"}, {"decision": "decline"}
    return {}, {}


def _page_url(action: str, tenant) -> str:
    if action == "restore":
        return reverse("tenants:restore", args=[tenant.pk, tenant.backups.get().pk])
    return reverse(f"tenants:{action.replace('decline_plan', 'plan')}", args=[tenant.pk])


ACTIONS = ["suspend", "resume", "plan", "upgrade", "backup", "restore", "cancel_delete"]
# Declining a larger plan is a decision sent to the plan page and to the API's plan action.
API_NAMES = {"decline_plan": "plan", "cancel_delete": "cancel-delete"}


@pytest.mark.parametrize("role", ["requester", "approver"])
@pytest.mark.parametrize("state", ["requested", "ready", "failed", "suspended"])
@pytest.mark.parametrize("action", [*ACTIONS, "decline_plan"])
def test_the_api_answers_as_the_page_does(client, api_for, people, role, state, action):
    user = people[role]
    tenants = []
    for _ in range(2):
        tenant = TenantFactory(owner=people["requester"], state=state.replace("suspended", "ready"))
        if state == "suspended":
            # The owner suspended it, so the owner may resume it too.
            Tenant.objects.filter(pk=tenant.pk).update(
                suspended_at=timezone.now(), suspended_by=people["requester"]
            )
            tenant.refresh_from_db()
        tenants.append(tenant)
    page_tenant, api_tenant = tenants
    page_data, _ = _inputs(action, page_tenant)
    _, api_data = _inputs(action, api_tenant)

    client.force_login(user)
    page = client.post(_page_url(action, page_tenant), page_data)
    page_errors = [m.message for m in get_messages(page.wsgi_request) if m.level_tag == "error"]
    api = _post(
        api_for(user), API_NAMES.get(action, action), api_tenant, api_data, **_etag(api_tenant)
    )

    if page_errors:
        assert api.status_code in (400, 409), api.content
        assert api.json()["detail"] == page_errors[0]
    elif page.status_code == 400:
        # The page's form came back with the service's sentence under its field.
        assert api.status_code == 400, api.content
        assert escape(api.json()["detail"]) in page.content.decode()
    else:
        assert page.status_code == 302, page.content
        assert api.status_code == 202, api.content
        assert api["ETag"] == etag_of(api.json())


def test_an_owner_suspends_and_resumes_and_the_audit_names_the_token(api_for, requester):
    tenant = TenantFactory(owner=requester, state="ready")
    client = api_for(requester)

    suspended = _post(client, "suspend", tenant, {"reason": "Quiet month"}, **_etag(tenant))

    assert suspended.status_code == 202, suspended.content
    tenant.refresh_from_db()
    assert tenant.is_suspended and tenant.suspension_reason == "Quiet month"
    event = AuditEvent.objects.filter(action="tenant.suspended").get()
    assert event.actor_name == f"{requester.username} via API token “test-{requester.username}”"
    resumed = _post(client, "resume", tenant, {}, HTTP_IF_MATCH=suspended["ETag"])
    assert resumed.status_code == 202, resumed.content
    tenant.refresh_from_db()
    assert not tenant.is_suspended


def test_an_admin_declines_the_larger_plan_the_owner_asked_for(api_for, requester, approver):
    tenant = TenantFactory(owner=requester, state="ready")

    asked = _post(api_for(requester), "plan", tenant, {"plan": "medium"}, **_etag(tenant))

    assert asked.status_code == 202, asked.content
    tenant.refresh_from_db()
    assert tenant.plan.name == "small" and tenant.requested_plan.name == "medium"
    declined = _post(
        api_for(approver), "plan", tenant, {"decision": "decline"}, HTTP_IF_MATCH=asked["ETag"]
    )
    assert declined.status_code == 202, declined.content
    tenant.refresh_from_db()
    assert tenant.plan.name == "small" and tenant.requested_plan is None
    assert AuditEvent.objects.filter(action="tenant.plan_declined").count() == 1


def test_an_old_etag_is_refused_and_nothing_changes(api_for, requester):
    tenant = TenantFactory(owner=requester, state="ready")
    stale = _etag(tenant)
    Tenant.objects.filter(pk=tenant.pk).update(display_name="Renamed since")

    response = _post(api_for(requester), "suspend", tenant, {}, **stale)

    assert response.status_code == 412
    tenant.refresh_from_db()
    assert not tenant.is_suspended


def test_a_restore_without_if_match_is_refused_with_a_sentence(api_for, requester):
    tenant = TenantFactory(owner=requester, state="ready")
    item = _done_backup(tenant)

    response = _post(
        api_for(requester), "restore", tenant, {"backup": item.pk, "confirm_slug": tenant.slug}
    )

    assert response.status_code == 428
    assert "so you restore over what you saw" in response.json()["detail"]
    tenant.refresh_from_db()
    assert not tenant.restoring


def _bad(tenant, other):
    slug = tenant.slug
    return [
        ("plan", {}, "plan", "This field is required."),
        ("plan", {"plan": "huge"}, "plan", "Choose one of the offered plans."),
        ("upgrade", {}, "version", "This field is required."),
        ("upgrade", {"version": "6" * 21}, "version", "no more than 20"),
        ("suspend", {"reason": "x" * 1001}, "reason", "no more than 1000"),
        ("restore", {"confirm_slug": slug}, "backup", "This field is required."),
        ("restore", {"backup": "one", "confirm_slug": slug}, "backup", "valid integer"),
        ("restore", {"backup": 1}, "confirm_slug", "This field is required."),
        ("restore", {"backup": 1, "confirm_slug": "nope"}, "confirm_slug", f"name, {slug}, to"),
        ("restore", {"backup": other, "confirm_slug": slug}, "backup", "didn't finish"),
        ("restore", {"backup": 1, "confirm_slug": slug.upper()}, "confirm_slug", "in lower-case"),
    ]  # fmt: skip


@pytest.mark.parametrize("case", range(11))
def test_bad_input_gets_a_400_naming_the_field(api_for, requester, case):
    tenant = TenantFactory(owner=requester, state="ready")
    someone_elses = _done_backup(TenantFactory(state="ready"))
    action, body, field, words = _bad(tenant, someone_elses.pk)[case]
    client = api_for(requester)
    before = AuditEvent.objects.count()

    response = _post(client, action, tenant, body, **_etag(tenant))

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert words in response.json()["errors"][field][0]
    assert words in response.json()["detail"]
    assert AuditEvent.objects.count() == before, "refused input changes nothing"


def test_a_restore_with_two_wrong_fields_names_both(api_for, requester):
    tenant = TenantFactory(owner=requester, state="ready")
    someone_elses = _done_backup(TenantFactory(state="ready"))
    body = {"backup": someone_elses.pk, "confirm_slug": "nope"}

    response = _post(api_for(requester), "restore", tenant, body, **_etag(tenant))

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"backup", "confirm_slug"}


@pytest.mark.parametrize("action", ["suspend", "plan", "upgrade", "restore"])
def test_a_body_that_is_not_an_object_gets_a_400(api_for, requester, action):
    tenant = TenantFactory(owner=requester, state="ready")

    response = _post(api_for(requester), action, tenant, "[1, 2]", **_etag(tenant))

    assert response.status_code == 400, response.content
    assert response.json()["detail"]


def test_the_backups_list_shows_the_pages_columns_and_no_bucket_path(api_for, requester, people):
    tenant = TenantFactory(owner=requester, state="ready")
    item = _done_backup(tenant)
    _done_backup(TenantFactory(owner=people["other_requester"], state="ready"))

    response = api_for(requester).get(reverse("api:tenant-backups", args=[tenant.pk]))

    assert response.status_code == 200
    (listed,) = response.json()["results"]
    assert listed["id"] == item.pk and listed["state"] == "done" and listed["size_bytes"] == 1234
    assert "prefix" not in listed
    assert tenant.slug + "/2026" not in response.content.decode()


def test_the_pages_action_limit_holds_for_scripts_too(api_for, requester, settings):
    settings.PORTAL_RATE_LIMIT_ACTIONS = "2/86400"  # a day's window: no test straddles its end
    tenant = TenantFactory(owner=requester, state="ready")
    client = api_for(requester)
    for name in ("suspend", "resume"):
        assert _post(client, name, tenant, {}).status_code == 202

    response = _post(client, "suspend", tenant, {})

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 86400
    assert response.json()["detail"].startswith("Too many changes; try again in ")
    tenant.refresh_from_db()
    assert not tenant.is_suspended


def test_the_plan_answer_carries_the_usage_rules_finding(api_for, requester):
    tenant = TenantFactory(owner=requester, state="ready", plan=plan("medium"))
    now = timezone.now()
    UsageSample.objects.bulk_create(
        UsageSample(
            tenant=tenant,
            plan=tenant.plan,
            taken_at=now - timedelta(hours=h, minutes=1),
            used={"cpu": 1000},
            hard={"cpu": 2000},
        )
        for h in range(14 * 24)
    )

    asked = _post(api_for(requester), "plan", tenant, {"plan": "large"}, **_etag(tenant))

    assert asked.status_code == 202, asked.content
    found = asked.json()["plan_rule"]
    assert found["plan"] == "large" and found["pending"] and not found["met"]
    assert found["verdict"] == (
        "Not met: CPU requests at 50 % average over 14 days (the highest), below 85 %."
    )
    assert found["measures"] == "CPU requests: 50 % on average, 50 % at most"
    assert found["measured_by"].startswith("Measured by the quota's requests")
    assert asked["ETag"] == etag_of(asked.json())
