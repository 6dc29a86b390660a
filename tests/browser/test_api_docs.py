"""In Chromium: the API's docs page and its browsable pages render under the portal's strict CSP."""

import pytest

from tests.browser.shots import shot
from tests.browser.test_tenant_flow import sign_in
from tests.factories import TenantFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_docs_page_renders_without_a_csp_violation(browser, live_server):
    # The Swagger UI page's own inline <style> was refused by style-src 'self' (a console
    # error on every visit); the guard fails the test on any violation.
    UserFactory(username="alice", role="requester")
    page = sign_in(browser, live_server, "alice")
    page.goto(f"{live_server.url}/api/v1/docs/")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() > 10
    # What the refused block set: the page's ground and the boxes' sizing.
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(250, 250, 250)"
    shot(page, "api-docs")


def test_the_browsable_api_renders_without_a_csp_violation(browser, live_server):
    # DRF's own pages (a browser's GET of /api/v1/…) had an inline <style> and two style
    # attributes (the "Extra Actions" menu, the filters button), each a console error.
    alice = UserFactory(username="alice", role="requester")
    tenant = TenantFactory(owner=alice, state="ready")
    page = sign_in(browser, live_server, "alice")
    for path in ("/api/v1/", "/api/v1/tenants/", f"/api/v1/tenants/{tenant.pk}/"):
        page.goto(f"{live_server.url}{path}")
        assert page.locator(".response-info").is_visible()
    menu = page.locator("#extra-actions-menu")
    assert menu.is_visible()
    # Still to the right of the page's forms, as DRF's attributes placed it.
    assert page.evaluate("getComputedStyle(document.querySelector('.drf-aside')).float") == "right"
    shot(page, "api-browsable")
