"""Hostile and odd input at every form and action, as each role: a clear answer, never a 500,
and nothing the user typed is lost when a form comes back."""

from html import escape

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from provisioning.models import Run
from tenants.models import Plan, Tenant
from tests.factories import TenantFactory, UserFactory, plan, request_form_data

pytestmark = pytest.mark.django_db

REQUEST_URL = reverse("tenants:request")
State = Tenant.State


form_data = request_form_data


def errors_of(response) -> dict[str, list[str]]:
    return {k: list(v) for k, v in response.context["form"].errors.items()}


def assert_kept(page: str, data: dict) -> None:
    """Every text the user typed is back in its input, so nothing has to be typed again."""
    for name in ("slug", "display_name", "admin_email", "host"):
        value = data.get(name)
        if value:
            assert f'value="{escape(value)}"' in page, f"{name} was lost"


def flashed(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- the request form -----------------------------------------------------------------------------

BAD_REQUESTS = [
    # (overrides, field, part of the message the user reads)
    ({"slug": ""}, "slug", "This field is required."),
    ({"slug": "   "}, "slug", "This field is required."),
    ({"slug": "a" * 31}, "slug", "Use 3 to 30 characters (this one has 31)."),
    # Past the field's cap too, the rule's own words: "at most 60" read against "3–30".
    ({"slug": "a" * 61}, "slug", "Use 3 to 30 characters (this one has 61)."),
    ({"slug": "a" * 10_000}, "slug", "Use 3 to 30 characters (this one has 10000)."),
    ({"slug": "shop\x00"}, "slug", "Null characters are not allowed."),
    ({"slug": "my shop"}, "slug", "Use only lower-case letters, digits and hyphens"),
    ({"slug": "shöp"}, "slug", "Use only lower-case letters, digits and hyphens"),
    ({"slug": "bücher"}, "slug", "Use only lower-case letters, digits and hyphens"),
    ({"slug": "🚀rocket"}, "slug", "Use only lower-case letters, digits and hyphens"),
    ({"slug": "İstanbul"}, "slug", "Use only lower-case letters, digits and hyphens"),
    ({"slug": "shop\u200b"}, "slug", "Use only lower-case letters, digits and hyphens"),
    ({"slug": "ＳＨＯＰ"}, "slug", "Use only lower-case letters, digits and hyphens"),
    ({"slug": "-shop"}, "slug", "starting and ending with a letter or digit"),
    ({"slug": "Kube-System"}, "slug", "is reserved for the platform"),
    ({"display_name": ""}, "display_name", "This field is required."),
    ({"display_name": " \t\n "}, "display_name", "This field is required."),
    ({"display_name": "x" * 101}, "display_name", "at most 100 characters"),
    ({"display_name": "nul\x00title"}, "display_name", "Null characters are not allowed."),
    ({"host": "bücher.example.com"}, "host", "Enter a host name such as blog.example.com"),
    ({"host": "localhost"}, "host", "Enter a host name such as blog.example.com"),
    ({"host": "1.2.3.4"}, "host", "Enter a host name such as blog.example.com"),
    ({"host": "example..com"}, "host", "Enter a host name such as blog.example.com"),
    ({"host": "under_score.example.com"}, "host", "Enter a host name"),
    ({"host": "https://blog.example.com/"}, "host", "Enter a host name"),
    ({"host": "blog.example.com:8080"}, "host", "Enter a host name"),
    ({"host": "-a.example.com"}, "host", "Enter a host name"),
    ({"host": ("a" * 64) + ".example.com"}, "host", "Enter a host name"),
    ({"host": "a." * 127 + "com"}, "host", "at most 253 characters"),
    ({"host": "blog\x00.example.com"}, "host", "Null characters are not allowed."),
    ({"host": "🚀.example.com"}, "host", "Enter a host name"),
    ({"plan": ""}, "plan", "This field is required."),
    ({"plan": None}, "plan", "This field is required."),
    ({"plan": "999999"}, "plan", "Choose one of the offered plans."),
    ({"plan": "abc"}, "plan", "Choose one of the offered plans."),
    ({"plan": "-1"}, "plan", "Choose one of the offered plans."),
    ({"plan": "99999999999999999999999"}, "plan", "Choose one of the offered plans."),
    ({"plan": "1\x00"}, "plan", "Null characters are not allowed."),
    ({"wordpress_version": "9.9"}, "wordpress_version", "Choose one of the offered versions"),
    ({"wordpress_version": ""}, "wordpress_version", "This field is required."),
    ({"wordpress_version": None}, "wordpress_version", "This field is required."),
    ({"wordpress_version": "6.8\x00"}, "wordpress_version", "Choose one of the offered versions"),
    ({"admin_email": ""}, "admin_email", "This field is required."),
    ({"admin_email": "not-an-email"}, "admin_email", "Enter a valid email address."),
    ({"admin_email": "Alice <a@example.com>"}, "admin_email", "Enter a valid email address."),
    ({"admin_email": "a@b"}, "admin_email", "Enter a valid email address."),
    ({"admin_email": "a@example.com\x00"}, "admin_email", "Null characters are not allowed."),
    ({"admin_email": "a@example.com\nBcc: x@evil.test"}, "admin_email", "Enter a valid email"),
    ({"admin_email": "a" * 64 + "@" + ("b" * 60 + ".") * 4 + "com"}, "admin_email", "at most 254"),
    ({"admin_email": "x" * 10_000 + "@example.com"}, "admin_email", "at most 320 characters"),
]


@pytest.mark.parametrize(("overrides", "field", "message"), BAD_REQUESTS)
@pytest.mark.parametrize("role", ["requester", "approver"])
def test_request_form_refuses_bad_input_with_a_message_and_keeps_the_rest(
    client, role, overrides, field, message
):
    client.force_login(UserFactory(username=f"hostile-{role}", role=role))
    data = form_data(**overrides)
    response = client.post(REQUEST_URL, data)
    assert response.status_code == 400
    errors = errors_of(response)
    assert any(message in e for e in errors.get(field, [])), errors
    page = response.content.decode()
    assert 'class="field has-error"' in page
    # What the user typed in the other fields is back in the form (the bad field too, where
    # it can be shown: a NUL byte or 10,000 characters are not worth echoing).
    assert_kept(page, {k: v for k, v in data.items() if k != field})
    if field in ("slug", "display_name", "host") and "\x00" not in data[field]:
        if len(data[field]) < 1000:
            assert_kept(page, {field: data[field]})
    assert not Tenant.objects.exists()


def test_an_empty_host_is_not_blamed_for_a_bad_name(client, requester):
    """The user left the host empty: only the name is wrong, so only the name says so."""
    client.force_login(requester)
    TenantFactory(slug="taken")  # its default host is taken with it
    for slug in ("my_blog", "a" * 31, "bücher", "taken"):
        response = client.post(REQUEST_URL, form_data(slug=slug))
        assert response.status_code == 400
        assert "host" not in errors_of(response), errors_of(response)


def test_an_inactive_plan_is_refused_in_words(client, requester):
    retired = plan("large")
    Plan.objects.filter(pk=retired.pk).update(is_active=False)
    client.force_login(requester)
    response = client.post(REQUEST_URL, form_data(plan=retired.pk))
    assert response.status_code == 400
    assert errors_of(response)["plan"] == ["Choose one of the offered plans."]
    assert 'value="My blog"' in response.content.decode()


GOOD_REQUESTS = [
    ({"slug": "  Shop  "}, "shop", "wordpress-shop.local"),
    ({"slug": "SHOP-42"}, "shop-42", "wordpress-shop-42.local"),
    ({"slug": "xn--bcher-kva"}, "xn--bcher-kva", "wordpress-xn--bcher-kva.local"),
    ({"slug": "abc", "host": "  Blog.Example.COM.  "}, "abc", "blog.example.com"),
    ({"slug": "idn", "host": "xn--bcher-kva.example"}, "idn", "xn--bcher-kva.example"),
    ({"slug": "emoji", "display_name": "🎉 Party ünïcödé ‮RTL"}, "emoji", None),
    ({"slug": "tags", "display_name": "<script>alert(1)</script>"}, "tags", None),
    ({"slug": "mailer", "admin_email": "  Me+Tag@Example.COM  "}, "mailer", None),
    ({"slug": "iplit", "admin_email": "root@[127.0.0.1]"}, "iplit", None),
    ({"slug": "idnmail", "admin_email": "me@bücher.example"}, "idnmail", None),
    ({"slug": "blankhost", "host": "   "}, "blankhost", "wordpress-blankhost.local"),
]


@pytest.mark.parametrize(("overrides", "slug", "host"), GOOD_REQUESTS)
def test_odd_but_valid_input_is_accepted_as_meant(
    client, requester, overrides, slug, host, mailoutbox, django_capture_on_commit_callbacks
):
    client.force_login(requester)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(REQUEST_URL, form_data(**overrides))
    assert response.status_code == 302, errors_of(response)
    tenant = Tenant.objects.get()
    assert tenant.slug == slug
    if host:
        assert tenant.host == host
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert escape(tenant.display_name) in page
    assert "<script>alert(1)</script>" not in page


def test_double_submit_files_one_request_and_says_why_the_second_failed(client, requester):
    client.force_login(requester)
    data = form_data(slug="twice", display_name="Twice")
    first = client.post(REQUEST_URL, data)
    second = client.post(REQUEST_URL, data)
    assert first.status_code == 302
    assert second.status_code == 400
    assert errors_of(second)["slug"] == [
        "“twice” is already taken (or still being deleted); pick another."
    ]
    assert_kept(second.content.decode(), data)
    assert Tenant.objects.filter(slug="twice").count() == 1


def test_one_request_too_many_is_refused_for_the_whole_form(client, requester, settings):
    settings.PORTAL_MAX_TENANTS_PER_USER = 1
    TenantFactory(owner=requester, slug="first")
    client.force_login(requester)
    data = form_data(slug="second", display_name="Second")
    response = client.post(REQUEST_URL, data)
    assert response.status_code == 400
    assert "the most one person may have" in response.content.decode()
    assert_kept(response.content.decode(), data)


def test_a_request_that_is_not_a_form_is_refused_plainly(client, requester):
    client.force_login(requester)
    response = client.post(REQUEST_URL, b"\x00\xff{not json", content_type="application/json")
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    response = client.put(REQUEST_URL, form_data())
    assert response.status_code == 405


def test_auditor_and_anonymous_cannot_request(client, auditor):
    response = client.post(REQUEST_URL, form_data())
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    client.force_login(auditor)
    assert client.post(REQUEST_URL, form_data()).status_code == 403
    assert not Tenant.objects.exists()


# --- deciding: the reject form and the decision ---------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "Say why, so the requester knows what to change."),
        ("   \n\t ", "Say why, so the requester knows what to change."),
        ("x" * 10_000, "at most 2000 characters (it has 10000)"),
        ("why\x00not", "Null characters are not allowed."),
    ],
)
def test_reject_needs_a_real_reason_and_keeps_what_was_typed(
    client, requester, approver, reason, message
):
    tenant = TenantFactory(owner=requester, slug="nope")
    client.force_login(approver)
    response = client.post(
        reverse("tenants:approval", args=[tenant.pk]), {"decision": "reject", "reason": reason}
    )
    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    if reason.strip() and "\x00" not in reason:
        assert escape(reason) in page  # the 10,000 characters are still in the box
    tenant.refresh_from_db()
    assert tenant.state == State.REQUESTED


def test_a_unicode_reason_reaches_the_requester_intact(
    client, requester, approver, mailoutbox, eager_celery, django_capture_on_commit_callbacks
):
    tenant = TenantFactory(owner=requester, slug="nope")
    client.force_login(approver)
    reason = "  Zu groß 🚫 — <b>bitte</b> „small“ wählen  "
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("tenants:approval", args=[tenant.pk]),
            {"decision": "reject", "reason": reason},
        )
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.state == State.REJECTED and tenant.rejection_reason == reason.strip()
    assert reason.strip() in mailoutbox[-1].body
    client.force_login(requester)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert escape(reason.strip()) in page


@pytest.mark.parametrize("decision", [None, "", "APPROVE", "delete", "approve\x00", "x" * 5000])
def test_an_unknown_decision_changes_nothing_and_says_so(client, requester, approver, decision):
    tenant = TenantFactory(owner=requester, slug="pending")
    client.force_login(approver)
    data = {} if decision is None else {"decision": decision}
    response = client.post(reverse("tenants:approval", args=[tenant.pk]), data)
    assert response.status_code == 302
    assert flashed(response) == ["Choose approve or reject."]
    tenant.refresh_from_db()
    assert tenant.state == State.REQUESTED


# --- actions on tenants in every state, as every role ---------------------------------------------

ALL_STATES = list(State.values)


def tenant_in(state: str, owner) -> Tenant:
    gone = state in (State.DELETING, State.DELETED)
    tenant = TenantFactory(owner=owner, slug=f"t-{state}", state=state, desired_present=not gone)
    if state in (State.PROVISIONING, State.DELETING):
        action = Run.Action.DESTROY if gone else Run.Action.APPLY
        Run.objects.create(tenant=tenant, action=action, reason="x", status=Run.Status.RUNNING)
    return tenant


# Which (action, state) pairs do something; every other pair must be refused with a message.
ALLOWED = {
    ("approve", State.REQUESTED),
    ("reject", State.REQUESTED),
    ("retry", State.FAILED),
    ("reconcile", State.READY),
    ("reconcile", State.FAILED),
    ("delete", State.REQUESTED),
    ("delete", State.APPROVED),
    ("delete", State.PROVISIONING),
    ("delete", State.READY),
    ("delete", State.FAILED),
}


def post_action(client, action: str, tenant: Tenant):
    if action in ("approve", "reject"):
        data = {"decision": action, "reason": "Not now."}
        return client.post(reverse("tenants:approval", args=[tenant.pk]), data)
    data = {"confirm_slug": tenant.slug} if action == "delete" else {}
    return client.post(reverse(f"tenants:{action}", args=[tenant.pk]), data)


ACTIONS = ["approve", "reject", "retry", "reconcile", "delete"]


@pytest.mark.parametrize("state", ALL_STATES)
@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_on_every_state_as_an_approver(
    client, requester, approver, action, state, django_capture_on_commit_callbacks
):
    tenant = tenant_in(state, requester)
    client.force_login(approver)
    with django_capture_on_commit_callbacks():  # queued provisioning is not the point here
        response = post_action(client, action, tenant)
    assert response.status_code == 302
    messages = flashed(response)
    assert len(messages) == 1, messages
    tenant.refresh_from_db()
    if (action, state) not in ALLOWED:
        assert tenant.state == state, f"{action} moved a {state} tenant to {tenant.state}"
    # The page the user lands on renders, with the message.
    landing = client.get(response["Location"])
    assert landing.status_code == 200
    assert escape(messages[0]) in landing.content.decode()


OWNER_MAY = {("delete", s) for s in ALL_STATES} | {("reconcile", s) for s in ALL_STATES}


@pytest.mark.parametrize("state", ALL_STATES)
@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_on_every_state_as_each_other_role(
    client, requester, other_requester, auditor, action, state, django_capture_on_commit_callbacks
):
    tenant = tenant_in(state, requester)
    expected = {
        # Someone else's tenant does not exist for a requester (404), or the page is 403.
        other_requester: 403 if action in ("approve", "reject") else 404,
        auditor: 403,
        # The owner, last: deciding is for approvers (403); retry answers with a message.
        requester: 403 if action in ("approve", "reject") else 302,
    }
    for user, status in expected.items():
        client.force_login(user)
        with django_capture_on_commit_callbacks():
            response = post_action(client, action, tenant)
        assert response.status_code == status, (user.username, response.status_code)
        if status == 302:
            assert len(flashed(response)) == 1
        tenant.refresh_from_db()
        if user != requester or (action, state) not in OWNER_MAY:
            assert tenant.state == state


@pytest.mark.parametrize("state", ALL_STATES)
def test_every_page_of_a_tenant_in_every_state_renders_for_every_role(
    client, requester, other_requester, approver, auditor, state
):
    tenant = tenant_in(state, requester)
    urls = [
        tenant.get_absolute_url(),
        reverse("tenants:progress", args=[tenant.pk]),
        reverse("tenants:delete", args=[tenant.pk]),
        reverse("tenants:approval", args=[tenant.pk]),
    ]
    for user in (requester, approver, auditor, other_requester):
        client.force_login(user)
        for url in urls:
            status = client.get(url).status_code
            if user == other_requester:
                assert status in (403, 404)
            elif user == requester and "approvals" in url:
                assert status == 403
            elif user == auditor and "delete" in url:
                assert status == 403  # auditors read; the delete form is not theirs
            else:
                assert status == 200, (user.username, url)


@pytest.mark.parametrize(
    "typed", ["", "   ", "t-read", "t-ready-x", "T-READY\x00", "x" * 10_000, "t‑ready"]
)
def test_delete_with_a_wrong_name_asks_again_and_keeps_what_was_typed(client, requester, typed):
    tenant = tenant_in(State.READY, requester)
    client.force_login(requester)
    response = client.post(reverse("tenants:delete", args=[tenant.pk]), {"confirm_slug": typed})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Type the tenant&#x27;s name, t-ready, to confirm." in page
    if typed and "\x00" not in typed:
        assert f'value="{escape(typed)}"' in page
    tenant.refresh_from_db()
    assert tenant.state == State.READY and tenant.desired_present


def test_delete_forgives_spaces_around_the_name(
    client, requester, django_capture_on_commit_callbacks
):
    tenant = tenant_in(State.READY, requester)
    client.force_login(requester)
    with django_capture_on_commit_callbacks():
        response = client.post(
            reverse("tenants:delete", args=[tenant.pk]), {"confirm_slug": "  t-ready "}
        )
    assert response.status_code == 302
    tenant.refresh_from_db()
    assert tenant.state == State.DELETING


def test_delete_refuses_the_name_in_capitals_beside_the_field_and_keeps_it(
    client, requester, django_capture_on_commit_callbacks
):
    # Slugs are lower-case; a name typed otherwise is not the one shown, so nothing is deleted.
    tenant = tenant_in(State.READY, requester)
    client.force_login(requester)
    with django_capture_on_commit_callbacks():
        response = client.post(
            reverse("tenants:delete", args=[tenant.pk]), {"confirm_slug": "T-Ready"}
        )
    assert response.status_code == 400
    page = response.content.decode()
    assert "in lower-case letters" in page
    assert 'value="T-Ready"' in page
    tenant.refresh_from_db()
    assert tenant.state == State.READY


def test_a_second_delete_click_is_told_it_is_already_under_way(
    client, requester, django_capture_on_commit_callbacks
):
    tenant = tenant_in(State.READY, requester)
    client.force_login(requester)
    url = reverse("tenants:delete", args=[tenant.pk])
    with django_capture_on_commit_callbacks():
        client.post(url, {"confirm_slug": tenant.slug})
        response = client.post(url, {"confirm_slug": tenant.slug})
    assert flashed(response)[-1] == "This tenant is already being deleted."
    assert tenant.runs.filter(action=Run.Action.DESTROY).count() == 1


@pytest.mark.parametrize(
    "path",
    [
        "/tenants/99999999999999999999/",
        "/tenants/99999999999999999999/progress/",
        "/tenants/99999999999999999999/delete/",
        "/tenants/approvals/99999999999999999999/",
        "/tenants/0/",
        "/tenants/-1/",
        "/tenants/abc/",
        "/tenants/%00/",
        "/tenants/１２/",
    ],
)
def test_odd_ids_are_not_found(client, approver, path):
    client.force_login(approver)
    assert client.get(path).status_code == 404
    if "progress" not in path:
        assert client.post(path, {"decision": "approve", "confirm_slug": "x"}).status_code in (
            404,
            405,
        )


# --- lists with junk query strings ----------------------------------------------------------------

JUNK_QUERIES = [
    {"page": "-1"},
    {"page": "0"},
    {"page": "abc"},
    {"page": "99999"},
    {"page": "99999999999999999999999999"},
    {"page": "1.5"},
    {"page": "\x00"},
    {"page": ["1", "2"]},
    {"sort": "__class__"},
    {"sort": "-__class__"},
    {"sort": "owner__password"},
    {"sort": "?"},
    {"sort": 'a&b=c"><script>'},
    {"state": "junk"},
    {"state": "READY"},
    {"state": "\x00"},
    {"plan": "nonexistent"},
    {"plan": "\x00"},
    {"plan": "1' OR '1'='1"},
    {"owner": "\x00"},
    {"owner": "%"},
    {"q": "\x00"},
    {"q": "%_\\"},
    {"q": "x" * 10_000},
    {"q": "🚀"},
    {"q": "<script>alert(1)</script>"},
]


@pytest.mark.parametrize("query", JUNK_QUERIES)
@pytest.mark.parametrize("role", ["requester", "approver", "auditor"])
def test_lists_answer_junk_query_strings_with_a_page(client, role, query):
    user = UserFactory(username=f"lister-{role}", role=role)
    for i in range(3):
        TenantFactory(owner=user, slug=f"mine-{i}")
    client.force_login(user)
    response = client.get(reverse("tenants:list"), query)
    assert response.status_code == 200
    page = response.content.decode()
    assert "<script>alert(1)</script>" not in page and '"><script>' not in page
    if role != "requester":
        response = client.get(reverse("tenants:approvals"), query)
        assert response.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/admin/tenants/tenant/",
        "/admin/tenants/auditevent/",
        "/admin/provisioning/run/",
        "/admin/tenants/plan/",
    ],
)
@pytest.mark.parametrize(
    "query",
    [
        {"q": "\x00"},
        {"q": "x" * 5000},
        {"o": "abc"},
        {"o": "99"},
        {"p": "-1"},
        {"p": "abc"},
        {"state__exact": "junk"},
        {"created_at__gte": "not-a-date"},
        {"bogus": "1"},
    ],
)
def test_admin_lists_answer_junk_query_strings(client, approver, auditor, path, query):
    TenantFactory(slug="someone")
    for user in (approver, auditor):
        client.force_login(user)
        response = client.get(path, query)
        assert response.status_code in (200, 302), (user.username, response.status_code)


def test_a_forged_forwarded_for_does_not_break_an_audited_action(client, requester, settings):
    """Behind a proxy, X-Forwarded-For is what the client sent: it may be anything."""
    settings.PORTAL_TRUSTED_PROXY_COUNT = 1
    client.force_login(requester)
    for i, forwarded in enumerate(["not-an-ip", "", "1.2.3.4, <script>", "::ffff:zz", "🚀"]):
        data = form_data(slug=f"fwd-{i}")
        response = client.post(REQUEST_URL, data, HTTP_X_FORWARDED_FOR=forwarded)
        assert response.status_code == 302, forwarded
    assert Tenant.objects.count() == 5
