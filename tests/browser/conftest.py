"""Chromium for the browser tests; a test fails on any CSP violation or console error it met."""

import os

import pytest

from tests.browser.pageguard import PageGuard
from tests.browser.shots import shoot_failed

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


class GuardedBrowser:
    """The Playwright browser whose every new context is watched by the test's guard."""

    def __init__(self, browser, guard: PageGuard):
        self._browser = browser
        self.guard = guard

    def new_context(self, **kwargs):
        context = self._browser.new_context(**kwargs)
        self.guard.watch(context)
        return context


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    # The browser fixture's teardown keeps the pages of a test whose body failed.
    report = yield
    if report.when == "call" and report.failed:
        item.browser_test_failed = True
    return report


@pytest.fixture
def browser(request):
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing; scripts/services.sh installs it (Debian chromium).")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop; Django must still allow the test's own queries.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    guard = PageGuard()
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield GuardedBrowser(chromium, guard)
        if getattr(request.node, "browser_test_failed", False) or guard.problems:
            shoot_failed(chromium.contexts, request.node.name)
        chromium.close()
    if guard.problems:
        pytest.fail("The pages broke in the browser:\n" + "\n".join(guard.problems), pytrace=False)
