"""In Chromium: a request on the requester's own domain, its DNS TXT proof checked from the
tenant page against a DNS server on loopback, and the approval that waits for it."""

import pytest

from tenants import hostproof
from tenants.models import Tenant
from tests.browser.shots import shot
from tests.browser.test_tenant_flow import sign_in
from tests.factories import UserFactory, plan

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
HOST = "blog.example.com"


def test_a_custom_host_is_proven_before_it_is_approved(browser, live_server, dns_server):
    from playwright.sync_api import expect

    plan("small")  # seeded again after an earlier transactional test's flush
    UserFactory(username="alice", role="requester")
    UserFactory(username="carol", role="approver")

    alice = sign_in(browser, live_server, "alice")
    alice.get_by_role("link", name="Request a tenant").first.click()
    expect(alice.locator("#id_host_helptext")).to_contain_text("needs a DNS TXT record")
    alice.fill("#id_slug", "blog")
    alice.fill("#id_display_name", "Alice's blog")
    alice.fill("#id_admin_email", "alice@example.com")
    alice.fill("#id_host", HOST)
    alice.get_by_role("button", name="Send request").click()
    tenant = Tenant.objects.get(slug="blog")
    hosts = alice.locator("#tenant-hosts")
    value = hostproof.proof_value(tenant.pk, HOST)
    expect(hosts).to_contain_text(f"_wp-portal.{HOST}")
    expect(hosts).to_contain_text(value)
    expect(hosts).to_contain_text("Waiting for proof")

    carol = sign_in(browser, live_server, "carol")
    carol.get_by_role("link", name="Approvals").click()
    expect(carol.locator("table")).to_contain_text("Not proven")
    carol.get_by_role("link", name="blog").click()
    expect(carol.locator("#approval-host")).to_contain_text("not checked yet")
    expect(carol.get_by_role("button", name="Approve")).to_be_disabled()
    shot(carol, "approval-host-not-proven")

    alice.get_by_role("button", name=f"Check the TXT record of {HOST}").click()
    expect(alice.locator(".messages")).to_contain_text("NXDOMAIN")
    expect(hosts).to_contain_text("Last checked")
    shot(alice, "host-check-nxdomain")

    dns_server.txt[f"_wp-portal.{HOST}"] = [value]
    alice.get_by_role("button", name=f"Check the TXT record of {HOST}").click()
    expect(alice.locator(".messages")).to_contain_text("a platform admin may approve now")
    expect(hosts.locator(".state")).to_have_text("Proven")
    shot(alice, "host-proven")

    carol.reload()
    expect(carol.locator("#approval-host")).to_contain_text("Proven")
    carol.get_by_role("button", name="Approve").click()
    expect(carol.locator(".messages")).to_contain_text("Approved blog")
