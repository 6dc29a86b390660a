"""In Chromium: a requester asks for a tenant, an admin approves it, the steps appear live, the
owner suspends and resumes it, an auditor reads it all in the Django admin."""

import csv
import io
import re
from pathlib import Path

import pytest
from django.conf import settings

from tenants.audit import audit_record
from tenants.models import AuditEvent, Tenant
from tests.browser.shots import shot
from tests.factories import UserFactory, plan

PASSWORD = "pw-for-tests-only"  # tests.factories.UserFactory's

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(browser, live_server, username: str, *, width: int = 1280):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=login]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form").filter(has=page.locator("input[name=password]")).locator(
        "button[type=submit], input[type=submit]"
    ).first.click()
    page.wait_for_url(re.compile(r"/tenants/"))
    return page


def test_request_approve_and_watch_it_build(browser, live_server, eager_celery):
    from playwright.sync_api import expect

    plan("small")  # seeded again after an earlier transactional test's flush
    UserFactory(username="alice", role="requester")
    UserFactory(username="carol", role="approver")
    UserFactory(username="erin", role="auditor")

    alice = sign_in(browser, live_server, "alice")
    alice.get_by_role("link", name="Request a tenant").first.click()
    alice.fill("#id_slug", "Kube-Shop")
    alice.fill("#id_display_name", "Alice's <b>shop</b>")
    alice.fill("#id_admin_email", "alice@example.com")
    alice.get_by_role("button", name="Send request").click()
    # The rule's message next to the field; what was typed is still there.
    expect(alice.locator(".field.has-error")).to_contain_text("reserved for the platform")
    expect(alice.locator("#id_display_name")).to_have_value("Alice's <b>shop</b>")
    shot(alice, "request-errors")
    alice.fill("#id_slug", "shop")
    alice.select_option("#id_plan", value=str(plan("small").pk))
    alice.get_by_role("button", name="Send request").click()
    expect(alice.locator("#progress")).to_contain_text("Nothing is built until")
    expect(alice.locator("h1")).to_contain_text("Alice's <b>shop</b>")  # as text, not markup
    tenant = Tenant.objects.get(slug="shop")
    # Marks this page load: still there later means the page never reloaded.
    alice.evaluate("window.__sameLoad = true")

    carol = sign_in(browser, live_server, "carol")
    carol.get_by_role("link", name="Approvals").click()
    shot(carol, "approvals")
    carol.get_by_role("link", name="shop").click()
    expect(carol.locator("body")).to_contain_text("Approving this claims")
    shot(carol, "approval-detail")
    carol.get_by_role("button", name="Approve").click()
    expect(carol.locator(".messages")).to_contain_text("Approved shop")

    # Alice's open page picks up the decision and the steps by polling alone.
    steps = alice.locator("#progress tr.step")
    expect(steps).to_have_count(len(settings.PORTAL_STEPS), timeout=20_000)
    expect(alice.locator("#tenant-facts .state")).to_have_text("Ready", timeout=20_000)
    expect(alice.locator("#progress")).to_contain_text("Planned (plan mode)")
    expect(alice.get_by_role("link", name="wordpress-shop.local")).to_be_visible()
    expect(alice.locator("#tenant-history")).to_contain_text("Tenant ready")
    assert alice.evaluate("window.__sameLoad === true"), "the page was reloaded"
    shot(alice, "detail-ready")
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY

    suspend_and_resume(alice)
    audit_in_the_admin(sign_in(browser, live_server, "erin"), live_server, tenant)

    # The list, at phone width, is usable and shows the tenant.
    phone = sign_in(browser, live_server, "alice", width=390)
    expect(phone.get_by_role("link", name="shop")).to_be_visible()
    scroll_width = phone.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 390, f"the page scrolls sideways at phone width ({scroll_width}px)"
    shot(phone, "list-phone")
    phone.goto(f"{live_server.url}{tenant.get_absolute_url()}")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, "detail-phone")

    # Keyboard only: the skip link is the first stop and leads to the content.
    alice.goto(f"{live_server.url}/tenants/")
    alice.keyboard.press("Tab")
    expect(alice.locator(":focus")).to_have_text("Skip to content")
    shot(alice, "list-desktop")


def suspend_and_resume(alice) -> None:
    """Day 2 on the owner's page: suspend, saying why, then resume; each click is confirmed."""
    from playwright.sync_api import expect

    alice.locator("#btn-suspend").click()
    alice.fill("#suspend-reason", "Moving the shop's content")
    alice.get_by_role("button", name="Suspend the site").click()
    expect(alice.locator(".messages")).to_contain_text("shop is being suspended")
    expect(alice.locator("#suspended-badge")).to_be_visible()
    expect(alice.locator("#tenant-facts")).to_contain_text("by alice: Moving the shop's content")
    expect(alice.locator("#tenant-history")).to_contain_text("Tenant suspended")
    # The run that scaled it down has settled: the site can be brought back.
    expect(alice.locator("#tenant-facts .state").first).to_have_text("Ready", timeout=20_000)
    shot(alice, "detail-suspended")
    alice.get_by_role("button", name="Resume").click()
    expect(alice.locator(".messages")).to_contain_text("shop is being resumed")
    expect(alice.locator("#suspended-badge")).to_have_count(0)
    expect(alice.locator("#tenant-history")).to_contain_text("Tenant resumed")
    expect(alice.locator("#btn-suspend")).to_be_visible(timeout=20_000)
    shot(alice, "detail-resumed")


def whole_rows_in_view(page) -> None:
    """At 1280 px the audit list's rows fit: no column, the message least, is cut off."""
    results = page.evaluate(
        "(() => { const r = document.querySelector('#changelist .results');"
        " return [r.scrollWidth, r.clientWidth]; })()"
    )
    assert results[0] <= results[1], f"the list is {results[0]}px in {results[1]}px"
    page_width = page.evaluate("document.documentElement.scrollWidth")
    assert page_width <= 1280, f"the page is {page_width}px wide"


def audit_in_the_admin(erin, live_server, tenant) -> None:
    """The auditor follows the tenant page to its events in the Django admin, filters them,
    exports what the filter chose, opens one and finds nothing there to change."""
    from playwright.sync_api import expect

    # One message longer than any row: it wraps in its column rather than being cut off.
    audit_record(
        action=AuditEvent.Action.TENANT_NOTED, actor_name="carol", obj=tenant, message="x" * 900
    )
    erin.goto(f"{live_server.url}{tenant.get_absolute_url()}")
    expect(erin.locator("#btn-suspend")).to_have_count(0)  # auditors read, never act
    erin.locator("#audit-link").click()
    expect(erin).to_have_url(re.compile(rf"/admin/tenants/auditevent/\?.*object_id={tenant.pk}"))
    results = erin.locator("#result_list")
    for action in ["Tenant requested", "Tenant approved", "Tenant suspended", "Tenant resumed"]:
        expect(results).to_contain_text(action)
    # Nothing to add, and no bulk action but the export.
    expect(erin.locator(".object-tools")).not_to_contain_text("Add")
    options = erin.locator("select[name=action] option").all_inner_texts()
    assert not [o for o in options if "elete" in o], options
    whole_rows_in_view(erin)
    shot(erin, "audit-list")

    erin.locator("#changelist-filter").get_by_role("link", name="Tenant suspended").click()
    expect(erin).to_have_url(re.compile(r"action__exact=tenant\.suspended"))
    expect(erin).to_have_url(re.compile(rf"object_id={tenant.pk}"))  # still this tenant's
    expect(results.locator("tbody tr")).to_have_count(1)
    expect(erin.locator("#export-filtered")).to_have_text("Export this event as CSV")
    whole_rows_in_view(erin)
    shot(erin, "audit-filtered")
    with erin.expect_download() as download:
        erin.locator("#export-filtered").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [(r["action"], r["message"]) for r in rows] == [
        ("tenant.suspended", "Moving the shop's content")
    ]

    results.locator("tbody tr a").first.click()
    expect(erin.locator("#content h1")).to_contain_text("View audit event")
    # Named as the list names it: the action's words and the time with its zone.
    title = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC alice: Tenant suspended")
    expect(erin.locator("#content h2").first).to_have_text(title)
    expect(erin.locator("#content")).not_to_contain_text("tenant.suspended")
    expect(erin.locator("#content")).to_contain_text("Moving the shop's content")
    expect(erin.locator("#content")).to_contain_text("alice")
    # Read-only: no field to type in, no save, no delete.
    expect(erin.locator("#content form input:not([type=hidden]), #content textarea")).to_have_count(
        0
    )
    expect(erin.locator(".submit-row input[type=submit], .deletelink")).to_have_count(0)
    shot(erin, "audit-event")

    # Sending the change form anyway is refused, and the event is as it was.
    event = AuditEvent.objects.get(object_id=str(tenant.pk), action="tenant.suspended")
    token = next(c["value"] for c in erin.context.cookies() if c["name"] == "csrftoken")
    answer = erin.request.post(
        erin.url,
        form={"csrfmiddlewaretoken": token, "message": "nothing happened", "_save": "Save"},
        headers={"Referer": erin.url},
    )
    assert answer.status == 403, answer.status
    event.refresh_from_db()
    assert event.message == "Moving the shop's content"
    erin.goto(f"{live_server.url}/admin/tenants/auditevent/add/")
    expect(erin.locator("body")).not_to_contain_text("Save")
