"""Tenants through the API: request, decide, delete, with ETags, cursors and the audit."""

import pytest
from rest_framework.test import APIClient

from api.tokens import token_create
from provisioning.models import Run
from tenants.models import AuditEvent, Tenant
from tests.factories import TenantFactory

REQUEST = {
    "slug": "apiblog",
    "display_name": "API blog",
    "plan": "small",
    "wordpress_version": "6.8",
    "admin_email": "me@example.com",
}


def test_a_script_requests_a_tenant_and_the_audit_names_its_token(api_for, requester):
    response = api_for(requester).post("/api/v1/tenants/", REQUEST, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["slug"] == "apiblog" and body["state"] == "requested" and body["owner"] == "alice"
    assert response["Location"].endswith(f"/api/v1/tenants/{body['id']}/")
    assert body["url"] == "http://wordpress-apiblog.local/"  # a whole URL, scheme and all
    assert response["ETag"].startswith('"')
    event = AuditEvent.objects.get(action="tenant.requested", object_id=str(body["id"]))
    assert event.actor_name == "alice via API token “test-alice”"
    assert event.actor_id == requester.pk
    # The request id the caller got back is the one in the audit event the call caused.
    assert event.request_id == response["X-Request-ID"]


def test_bad_input_gets_the_forms_sentences(api_for, requester):
    response = api_for(requester).post(
        "/api/v1/tenants/", {**REQUEST, "slug": "Admin", "plan": "gold"}, format="json"
    )

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors["plan"] == ["Choose one of the offered plans."]
    assert not Tenant.objects.exists()


def test_the_api_names_every_wrong_field_at_once(api_for, requester):
    body = {
        "slug": "kube-x",
        "display_name": "API blog",
        "plan": "small",
        "wordpress_version": "0.1",
        "admin_email": "bad",
        "host": "not a host",
    }
    response = api_for(requester).post("/api/v1/tenants/", body, format="json")

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"slug", "wordpress_version", "admin_email", "host"}, errors
    assert "is reserved for the platform" in errors["slug"][0]


def test_a_name_taken_is_refused_by_the_service(api_for, requester):
    TenantFactory(slug="apiblog")
    response = api_for(requester).post("/api/v1/tenants/", REQUEST, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["slug"] == [
        "“apiblog” is already taken (or still being deleted); pick another."
    ]


def test_approve_through_the_api_starts_a_run(api_for, requester, approver):
    tenant = TenantFactory(owner=requester)
    client = api_for(approver)
    etag = client.get(f"/api/v1/tenants/{tenant.pk}/")["ETag"]

    response = client.post(
        f"/api/v1/tenants/{tenant.pk}/decide/",
        {"decision": "approve"},
        format="json",
        HTTP_IF_MATCH=etag,
    )

    assert response.status_code == 202, response.content
    assert response.json()["state"] == "approved"
    assert response["ETag"] != etag
    assert Run.objects.filter(tenant=tenant, reason="approved").exists()


def test_a_stale_etag_gets_412_and_changes_nothing(api_for, requester, approver, second_approver):
    tenant = TenantFactory(owner=requester)
    first, second = api_for(approver), api_for(second_approver)
    etag = first.get(f"/api/v1/tenants/{tenant.pk}/")["ETag"]
    stale = second.get(f"/api/v1/tenants/{tenant.pk}/")["ETag"]
    assert etag == stale
    first.post(
        f"/api/v1/tenants/{tenant.pk}/decide/",
        {"decision": "reject", "reason": "No budget."},
        format="json",
        HTTP_IF_MATCH=etag,
    )

    response = second.post(
        f"/api/v1/tenants/{tenant.pk}/decide/",
        {"decision": "approve"},
        format="json",
        HTTP_IF_MATCH=stale,
    )

    assert response.status_code == 412
    assert "changed since you read it" in response.json()["detail"]
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.REJECTED


def test_delete_needs_the_etag_then_withdraws_the_request(api_for, requester):
    tenant = TenantFactory(owner=requester)
    client = api_for(requester)
    assert client.delete(f"/api/v1/tenants/{tenant.pk}/").status_code == 428
    etag = client.get(f"/api/v1/tenants/{tenant.pk}/")["ETag"]

    response = client.delete(f"/api/v1/tenants/{tenant.pk}/", HTTP_IF_MATCH=etag)

    assert response.status_code == 202
    assert response.json()["state"] == "deleted"
    assert response.json()["state_display"] == "Withdrawn"  # taken back, never built
    again = client.delete(f"/api/v1/tenants/{tenant.pk}/", HTTP_IF_MATCH=response["ETag"])
    assert again.status_code == 409
    assert again.json() == {"detail": "This tenant is already gone."}


def test_an_unchanged_tenant_answers_304(api_for, requester):
    tenant = TenantFactory(owner=requester)
    client = api_for(requester)
    etag = client.get(f"/api/v1/tenants/{tenant.pk}/")["ETag"]

    assert client.get(f"/api/v1/tenants/{tenant.pk}/", HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_the_list_pages_by_cursor_in_the_chosen_order(api_for, approver):
    for n in range(5):
        TenantFactory(slug=f"page{n}")
    client = api_for(approver)

    slugs, url = [], "/api/v1/tenants/?sort=name&page_size=2"
    while url:
        body = client.get(url).json()
        assert len(body["results"]) <= 2
        slugs += [t["slug"] for t in body["results"]]
        url = body["next"]

    assert slugs == ["page0", "page1", "page2", "page3", "page4"]


def test_the_list_takes_the_pages_filters(api_for, requester, other_requester, approver):
    TenantFactory(slug="mine", owner=requester, state="ready")
    TenantFactory(slug="theirs", owner=other_requester)

    def slugs(client, query):
        return [t["slug"] for t in client.get(f"/api/v1/tenants/?{query}").json()["results"]]

    assert slugs(api_for(requester), "") == ["mine"]
    assert slugs(api_for(approver), "state=ready") == ["mine"]
    assert slugs(api_for(approver), "owner=bob") == ["theirs"]
    assert slugs(api_for(approver), "q=thei") == ["theirs"]
    # A requester can't look at others' tenants by filtering on them.
    assert slugs(api_for(requester), "owner=bob") == ["mine"]


@pytest.mark.parametrize("sort", ["name", "-name", "state", "plan", "-owner", "created", ""])
def test_every_sort_pages_without_gaps(api_for, approver, sort):
    for n in range(3):
        TenantFactory(slug=f"sort{n}")
    client = api_for(approver)
    seen, url = [], f"/api/v1/tenants/?sort={sort}&page_size=1"
    while url:
        body = client.get(url).json()
        seen += [t["slug"] for t in body["results"]]
        url = body["next"]
    assert sorted(seen) == ["sort0", "sort1", "sort2"]


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("post", "/api/v1/tenants/", "[]"),
        ("post", "/api/v1/tenants/", "null"),
        ("post", "/api/v1/tenants/", '{"slug": "a\\u0000b", "plan": ["small"]}'),
        ("post", "/api/v1/tenants/", "{not json"),
        ("get", "/api/v1/tenants/abc/", ""),
        ("get", "/api/v1/tenants/?cursor=bogus", ""),
        ("get", "/api/v1/tenants/?state=%00&q=%00&page_size=-1", ""),
        ("get", "/api/v1/runs/?status=%00", ""),
        ("get", "/api/v1/audit-events/?object_id=%00", ""),
        ("post", "/api/v1/tenants/99999/decide/", '{"decision": "approve"}'),
        ("post", "/api/v1/tenants/1/decide/", '{"decision": ["approve"]}'),
    ],
)
def test_odd_input_gets_a_clear_answer_never_a_500(api_for, approver, method, url, body):
    TenantFactory()
    response = getattr(api_for(approver), method)(url, body, content_type="application/json")

    assert response.status_code < 500
    if response.status_code >= 400:
        assert response.json()["detail"]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_a_write_to_a_path_the_api_lacks_reads_json_404_not_the_csrf_page(requester, method):
    # A script's token is no cookie: the catch-all answered its write with the browser's CSRF
    # page (403, HTML, "Not sent yet") instead of saying that the path does not exist.
    _, plain = token_create(user=requester, name="script", days=1)
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    tenant = TenantFactory(owner=requester)

    response = getattr(client, method)(
        f"/api/v1/tenants/{tenant.pk}/members/", {"username": "bob"}, format="json"
    )

    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def _decide(client, tenant, decision: str):
    etag = client.get(f"/api/v1/tenants/{tenant.pk}/")["ETag"]
    return client.post(
        f"/api/v1/tenants/{tenant.pk}/decide/", decision, format="json", HTTP_IF_MATCH=etag
    )


def _delete(client, tenant):
    etag = client.get(f"/api/v1/tenants/{tenant.pk}/")["ETag"]
    return client.delete(f"/api/v1/tenants/{tenant.pk}/", HTTP_IF_MATCH=etag)


def test_decisions_count_towards_the_pages_action_limit(api_for, requester, approver, settings):
    settings.PORTAL_RATE_LIMIT_ACTIONS = "2/86400"  # a day's window: no test straddles its end
    first, second, third = (TenantFactory(owner=requester) for _ in range(3))
    client = api_for(approver)
    assert _decide(client, first, {"decision": "approve"}).status_code == 202
    assert _decide(client, second, {"decision": "reject", "reason": "No."}).status_code == 202

    response = _decide(client, third, {"decision": "approve"})

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 86400
    assert response.json()["detail"].startswith("Too many changes; try again in ")
    third.refresh_from_db()
    assert third.state == Tenant.State.REQUESTED
    assert not Run.objects.filter(tenant=third).exists()


def test_deletes_count_towards_the_limit_shared_with_the_pages(
    api_for, client_for, requester, settings
):
    settings.PORTAL_RATE_LIMIT_ACTIONS = "2/86400"
    kept, gone, last = (TenantFactory(owner=requester, state="ready") for _ in range(3))
    # One change on the page, one over the API: the same count.
    page = client_for(requester).post(f"/tenants/{kept.pk}/suspend/", {"reason": ""})
    assert page.status_code == 302
    client = api_for(requester)
    assert _delete(client, gone).status_code == 202

    response = _delete(client, last)

    assert response.status_code == 429
    assert response.json()["detail"].startswith("Too many changes; try again in ")
    last.refresh_from_db()
    assert last.state == Tenant.State.READY
    assert not AuditEvent.objects.filter(object_id=str(last.pk), action__contains="delet").exists()


def test_requests_filed_over_the_api_count_towards_the_filing_limit(api_for, requester, settings):
    settings.PORTAL_RATE_LIMIT_REQUESTS = "1/86400"
    client = api_for(requester)
    assert client.post("/api/v1/tenants/", REQUEST, format="json").status_code == 201

    response = client.post("/api/v1/tenants/", {**REQUEST, "slug": "apiblog2"}, format="json")

    assert response.status_code == 429
    assert response.json()["detail"].startswith("You filed 1 requests in ")
    assert not Tenant.objects.filter(slug="apiblog2").exists()
