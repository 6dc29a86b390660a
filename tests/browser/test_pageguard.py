"""The browser tests' guard sees what a broken page does: CSP violations, console, script errors."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

INLINE = """
const s = document.createElement("script");
s.textContent = "window.__ran = 1";
document.body.append(s);
const d = document.createElement("div");
d.setAttribute("style", "color: red");
document.body.append(d);
"""


def test_the_guard_reports_what_the_portal_policy_refuses(browser, live_server):
    page = browser.new_context().new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    assert browser.guard.take() == [], "the sign-in page itself is clean"

    page.evaluate(INLINE)
    page.evaluate("console.error('boom from a test')")
    page.evaluate("setTimeout(() => { throw new Error('thrown by a test') }, 0)")
    page.wait_for_timeout(300)

    problems = browser.guard.take()
    assert page.evaluate("window.__ran") is None, "the policy let inline script run"
    assert any("CSP violation: script-src-elem blocked inline" in p for p in problems), problems
    assert any("CSP violation: style-src-attr blocked inline" in p for p in problems), problems
    assert any("console error" in p and "boom from a test" in p for p in problems), problems
    assert any("uncaught error" in p and "thrown by a test" in p for p in problems), problems


def test_a_missing_file_is_a_problem(browser, live_server):
    page = browser.new_context().new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.evaluate("fetch('/static/no-such-file.js')")
    page.wait_for_timeout(300)
    assert any("404" in p for p in browser.guard.take())


def test_a_failed_tests_open_pages_are_kept(browser, live_server, tmp_path, monkeypatch):
    from tests.browser.shots import shoot_failed

    monkeypatch.setenv("PORTAL_SCREENSHOT_DIR", str(tmp_path))
    for _ in range(2):
        browser.new_context().new_page().goto(f"{live_server.url}/accounts/login/")
    shoot_failed(browser._browser.contexts, "test_x[one two]")
    kept = sorted(p.name for p in tmp_path.iterdir())
    assert kept == ["failed-test_x-one-two-1.png", "failed-test_x-one-two-2.png"]
    assert (tmp_path / kept[0]).read_bytes().startswith(b"\x89PNG")
