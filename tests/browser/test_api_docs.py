"""In Chromium: the API's docs page renders its operations under the portal's strict CSP."""

import pytest

from tests.browser.shots import shot
from tests.browser.test_tenant_flow import sign_in
from tests.factories import UserFactory

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
