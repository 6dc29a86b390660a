"""The API's permission matrix is the pages': derived from the same URL x role table."""

import json

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from api.etags import etag_of
from api.serializers import TenantDetailSerializer
from provisioning.models import Run
from tenants.audit import audit_record
from tests.factories import TenantFactory
from tests.portal.test_url_roles import ROLES, TABLE, L

# API call -> (the page that does the same, GET or POST on it). The page's answer per role,
# from the page table, says what the API must answer.
API = {
    ("GET", "api:tenant-list"): ("tenants:list", "GET"),
    ("POST", "api:tenant-list"): ("tenants:request", "POST"),
    ("GET", "api:tenant-detail"): ("tenants:detail", "GET"),
    ("DELETE", "api:tenant-detail"): ("tenants:delete", "POST"),
    ("GET", "api:tenant-retry"): ("tenants:retry", "GET"),
    ("POST", "api:tenant-retry"): ("tenants:retry", "POST"),
    ("GET", "api:tenant-reconcile"): ("tenants:reconcile", "GET"),
    ("POST", "api:tenant-reconcile"): ("tenants:reconcile", "POST"),
    # The day-2 actions: posting on their pages, or GET on a URL that only takes POST.
    **{
        (method, f"api:tenant-{action.replace('_', '-')}"): (f"tenants:{action}", method)
        for action in (
            "suspend",
            "resume",
            "upgrade",
            "backup",
            "backup_schedule",
            "cancel_delete",
            "recreate",
        )  # fmt: skip
        for method in ("GET", "POST")
    },
    # Custom host names: add, check and remove, as the tenant page's forms do.
    **{
        (method, f"api:tenant-{action.replace('_', '-')}"): (f"tenants:{action}", method)
        for action in ("host_add", "host_check", "host_remove")
        for method in ("GET", "POST")
    },
    # The plan page's GET is its form; the API has only the POST.
    ("POST", "api:tenant-plan"): ("tenants:plan", "POST"),
    # The restore page names a backup in its URL (the table's is missing: 404); the API takes
    # it in the body, so the tenant's other backup action's answers are the ones to give.
    ("POST", "api:tenant-restore"): ("tenants:backup", "POST"),
    # The clone page's GET is its form; the API has only the POST (201 with the clone).
    ("POST", "api:tenant-clone"): ("tenants:clone", "POST"),
    ("POST", "api:tenant-promote"): ("tenants:promote", "POST"),
    # The detail page shows the runs, their steps, the backups and the tenant's history.
    ("GET", "api:tenant-backups"): ("tenants:detail", "GET"),
    ("GET", "api:tenant-runs"): ("tenants:detail", "GET"),
    ("GET", "api:tenant-events"): ("tenants:detail", "GET"),
    ("GET", "api:run-detail"): ("tenants:detail", "GET"),
    ("GET", "api:run-list"): ("tenants:list", "GET"),
    # Anyone signed in sees the plans (the request form lists them; the list filters by them).
    ("GET", "api:plan-list"): ("tenants:list", "GET"),
    ("GET", "api:plan-detail"): ("tenants:list", "GET"),
    ("GET", "api:approval-list"): ("tenants:approvals", "GET"),
    ("GET", "api:approval-detail"): ("tenants:approval", "GET"),
    ("POST", "api:tenant-decide"): ("tenants:approval", "POST"),
    # The whole audit trail is read in the Django admin, by platform admins and auditors.
    ("GET", "api:audit-event-list"): ("admin:index", "GET"),
    ("GET", "api:audit-event-detail"): ("admin:index", "GET"),
}

# Where a page answers in its own way, what that is in the API.
ACTED = "acted"  # the page redirected with a message: the API did it (2xx) or refused (4xx)


def expected_api_status(page: str, role: str, page_status, row: tuple):
    if role != "anonymous" and 405 in row:
        # The method does not exist there: the page refuses auditors before it notices.
        return 405
    if page_status == L:
        # Signed-in people the admin sends to its login page are simply not allowed in.
        return 401 if role == "anonymous" else 403
    if page_status == 302:
        return ACTED
    if page == "tenants:delete" and page_status == 400:
        # The page wants the name typed; the API wants the ETag of the tenant as read.
        return 428
    return page_status


def _cases():
    for (method, name), (page, page_method) in API.items():
        statuses = TABLE[page][1 if page_method == "GET" else 2]
        for role, page_status in zip(ROLES, statuses, strict=True):
            expected = expected_api_status(page, role, page_status, statuses)
            yield pytest.param(method, name, role, expected, id=f"{method}-{name}-{role}")


@pytest.fixture
def callers(people):
    return {"anonymous": None, **people}


def _api_url(name: str, tenant, run, event) -> str:
    if name.startswith("api:run-detail"):
        return reverse(name, args=[run.pk])
    if name == "api:plan-detail":
        return reverse(name, args=[tenant.plan.name])
    if name == "api:audit-event-detail":
        return reverse(name, args=[event.pk])
    if name.endswith("-list"):
        return reverse(name)
    return reverse(name, args=[tenant.pk])


def _call(client, method, url):
    if method == "GET":
        return client.get(url)
    return client.generic(method, url, "{}", content_type="application/json")


def test_every_api_url_is_in_the_table():
    from api.urls import router

    names = {f"api:{url.name}" for url in router.urls if url.name and "root" not in url.name}
    # No page registers webhooks: tests/api/test_webhooks_api.py holds their role matrix.
    api_only = {"api:webhook-list", "api:webhook-detail"}
    assert {name for _, name in API} == names - {"api:api-root"} - api_only


@pytest.mark.parametrize(("method", "name", "role", "expected"), list(_cases()))
def test_each_role_gets_the_answer_the_page_gives(api_for, callers, method, name, role, expected):
    tenant = TenantFactory(owner=callers["requester"])
    run = Run.objects.create(tenant=tenant, action=Run.Action.APPLY, reason="approved")
    event = audit_record(action="tenant.requested", obj=tenant)
    client = api_for(callers[role])

    response = _call(client, method, _api_url(name, tenant, run, event))

    if expected == ACTED:
        assert response.status_code in (202, 400, 409), response.content
    else:
        assert response.status_code == expected, response.content
    if response.status_code >= 400:
        assert response.json()["detail"], "every refusal says why"


# The actions the page answers with a redirect and a message: the API must say the same words.
ACTIONS = [
    (("POST", "api:tenant-retry"), ("tenants:retry", {})),
    (("POST", "api:tenant-reconcile"), ("tenants:reconcile", {})),
    (("POST", "api:tenant-decide"), ("tenants:approval", {})),
    (("POST", "api:tenant-decide"), ("tenants:approval", {"decision": "approve"})),
    (("DELETE", "api:tenant-detail"), ("tenants:delete", {})),
]


def _tenant_in(state: str, owner):
    """A tenant in that state; "waiting": being built, its last run ended by an outage."""
    if state != "waiting":
        return TenantFactory(owner=owner, state=state)
    tenant = TenantFactory(owner=owner, state="provisioning")
    now = timezone.now()
    Run.objects.create(
        tenant=tenant, action=Run.Action.APPLY, reason="approved", status=Run.Status.FAILED,
        outage="Kubernetes", started_at=now, finished_at=now, error="The namespace step failed",
    )  # fmt: skip
    return tenant


@pytest.mark.parametrize("role", ["requester", "approver"])
@pytest.mark.parametrize("state", ["requested", "ready", "failed", "waiting"])
@pytest.mark.parametrize(
    ("api", "page"), ACTIONS, ids=["retry", "reconcile", "decide-nothing", "approve", "delete"]
)
def test_refusals_carry_the_pages_sentences(client, api_for, people, role, state, api, page):
    user = people[role]
    page_tenant = _tenant_in(state, people["requester"])
    api_tenant = _tenant_in(state, people["requester"])
    page_name, data = page
    if page_name == "tenants:delete":
        data = {"confirm_slug": page_tenant.slug}
    client.force_login(user)
    page_response = client.post(reverse(page_name, args=[page_tenant.pk]), data)
    page_errors = [
        m.message for m in get_messages(page_response.wsgi_request) if m.level_tag == "error"
    ]

    method, name = api
    headers = {"HTTP_IF_MATCH": etag_of(TenantDetailSerializer(api_tenant).data)}
    api_response = api_for(user).generic(
        method,
        reverse(name, args=[api_tenant.pk]),
        _json(data),
        content_type="application/json",
        **headers,
    )

    if page_response.status_code == 403:
        assert api_response.status_code == 403
        assert api_response.json()["detail"] == "Your role does not allow this action."
    elif page_errors:
        assert api_response.status_code in (400, 409), api_response.content
        assert api_response.json()["detail"] == page_errors[0]
    else:
        assert page_response.status_code == 302
        assert api_response.status_code == 202, api_response.content


def _json(data: dict) -> str:
    return json.dumps(data)
