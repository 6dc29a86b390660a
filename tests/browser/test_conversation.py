"""In Chromium: requester and admin talk on a request, the admin approves, the owner adds and
removes a member, an auditor reads."""

import re

import pytest

from tests.browser.shots import shot
from tests.browser.test_tenant_flow import sign_in
from tests.factories import TenantFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_conversation_approval_and_the_auditors_view(browser, live_server, eager_celery):
    from playwright.sync_api import expect

    alice = UserFactory(username="alice", role="requester")
    UserFactory(username="carol", role="approver")
    UserFactory(username="erin", role="auditor")
    tenant = TenantFactory(owner=alice, slug="talk", display_name="Talk shop")
    url = f"{live_server.url}{tenant.get_absolute_url()}"

    page = sign_in(browser, live_server, "alice")
    page.goto(url)
    page.fill("#id_comment_text", "Can I get it by Friday?")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".messages")).to_contain_text("Comment sent.")
    expect(page.locator("#tenant-conversation")).to_contain_text("Can I get it by Friday?")
    shot(page, "conversation-requester")

    carol = sign_in(browser, live_server, "carol")
    carol.goto(f"{live_server.url}/tenants/approvals/{tenant.pk}/")
    expect(carol.locator("#tenant-conversation")).to_contain_text("Can I get it by Friday?")
    carol.fill("#id_comment_text", "Approving it now.")
    carol.get_by_role("button", name="Send").click()
    expect(carol).to_have_url(re.compile(rf"/tenants/approvals/{tenant.pk}/$"))
    carol.get_by_role("button", name="Approve").click()
    expect(carol.locator(".messages")).to_contain_text("Approved talk")
    shot(carol, "conversation-admin")

    page.reload()
    expect(page.locator("#tenant-conversation")).to_contain_text("Approving it now.")
    expect(page.locator("#tenant-facts .state")).to_have_text("Ready", timeout=20_000)

    # Day 2: the owner lets someone else sign in to the site, a typo first, then takes it back.
    members = page.locator("#tenant-members")
    page.fill("#id_member_username", "bob smith")
    members.get_by_role("button", name="Add").click()
    expect(page.locator("#member-error")).to_contain_text("letters, digits and @ . + - _ only")
    expect(page.locator("#id_member_username")).to_have_value("bob smith")  # as typed
    page.fill("#id_member_username", "bob")
    members.get_by_role("button", name="Add").click()
    expect(page.locator(".messages")).to_contain_text("bob may sign in to the site")
    expect(members.locator("ul.members")).to_contain_text("bob")
    expect(page.locator("#tenant-history")).to_contain_text("Member added")
    shot(page, "members-added")
    expect(page.locator("#tenant-facts .state")).to_have_text("Ready", timeout=20_000)
    members.get_by_role("button", name="Remove bob").click()
    expect(page.locator(".messages")).to_contain_text("can't sign in to the site any more")
    expect(members).to_contain_text("Only the owner so far.")
    assert not tenant.members.exists()

    erin = sign_in(browser, live_server, "erin")
    erin.goto(url)
    expect(erin.locator("#tenant-conversation")).to_contain_text("Approving it now.")
    expect(erin.locator("#id_comment_text")).to_have_count(0)  # auditors read, never write
    erin.get_by_role("link", name="erin").click()
    expect(erin.locator("h1")).to_have_text("Your profile")
    expect(erin.locator("body")).to_contain_text("you change nothing")
    shot(erin, "profile-auditor")
