"""In Chromium: a long title, long host names and a long history line wrap, step names stay
whole, and a step's log gets room to be read."""

import pytest
from django.utils import timezone

from provisioning.models import Run, StepRun
from tenants.audit import audit_record
from tenants.models import AuditEvent, TenantHost
from tests.browser.shots import shot
from tests.browser.test_tenant_flow import sign_in
from tests.factories import TenantFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_long_title_wraps_and_the_log_column_is_wide(browser, live_server):
    alice = UserFactory(username="alice", role="requester")
    tenant = TenantFactory(owner=alice, slug="wide", state="failed", display_name="W" * 100)
    run = Run.objects.create(tenant=tenant, action="apply", reason="approved", status="failed")
    StepRun.objects.create(
        run=run,
        name="database",
        position=0,
        status="failed",
        log="created user\n" * 3,
        error="MariaDB refused the user: access denied",
    )
    page = sign_in(browser, live_server, "alice")
    page.goto(f"{live_server.url}{tenant.get_absolute_url()}")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, f"the page is {width}px wide"
    details = page.locator("#progress td.step-details").bounding_box()["width"]
    step = page.locator("#progress tr.step td").first.bounding_box()["width"]
    assert details > 2 * step, f"the details column is {details}px, the step name {step}px"
    page.goto(f"{live_server.url}/tenants/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    shot(page, "detail-long-title")


def test_host_names_and_their_proofs_wrap(browser, live_server):
    alice = UserFactory(username="alice", role="requester")
    tenant = TenantFactory(owner=alice, slug="hosts", state="ready")
    longest = ".".join(["a" * 63, "b" * 63, "c" * 63, "example"])
    TenantHost.objects.create(tenant=tenant, name=longest, check_result="No record: …")
    TenantHost.objects.create(tenant=tenant, name="blog.example.com", proven_at=timezone.now())
    page = sign_in(browser, live_server, "alice")
    page.goto(f"{live_server.url}{tenant.get_absolute_url()}")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, f"the page is {width}px wide"
    section = page.locator("#tenant-hosts")
    assert section.locator("code").nth(2).inner_text().startswith("wp-portal-verify=")
    assert section.get_by_role("button", name=f"Check the TXT record of {longest}").is_visible()
    section.scroll_into_view_if_needed()
    shot(page, "detail-host-names")


def test_step_names_stay_whole_and_a_long_history_line_wraps(browser, live_server):
    # A reason of one long word (a URL, say) widened the page to 9,000 px through the history;
    # and the step names broke mid-word ("nam|espa|ce") in the steps' narrow first column.
    alice = UserFactory(username="alice", role="requester")
    tenant = TenantFactory(owner=alice, slug="walk", state="ready")
    run = Run.objects.create(tenant=tenant, action="apply", reason="approved", status="succeeded")
    names = ["namespace", "network", "database", "sso", "storage", "pipeline", "wordpress"]
    for position, name in enumerate(names):
        StepRun.objects.create(
            run=run, name=name, position=position, status="planned", log="planned\n"
        )
    audit_record(
        action=AuditEvent.Action.TENANT_SUSPENDED, actor=alice, obj=tenant, message="x" * 1000
    )
    page = sign_in(browser, live_server, "alice")
    page.goto(f"{live_server.url}{tenant.get_absolute_url()}")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, f"the page is {width}px wide"
    lines = page.evaluate(
        "Array.from(document.querySelectorAll('#progress tr.step td:first-child')).map(td => {"
        " const r = document.createRange(); r.selectNodeContents(td);"
        " return [td.textContent, r.getClientRects().length]; })"
    )
    assert lines == [[name, 1] for name in names], lines
    shot(page, "detail-steps-and-history")
