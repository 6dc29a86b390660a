"""E-mails to requesters and approvers, read from Django's locmem outbox."""

import re
from pathlib import Path

from django.conf import settings
from django.core import mail

from provisioning.models import Run, StepRun
from tenants import notifications, services
from tenants.models import Tenant
from tests.factories import TenantFactory, UserFactory, plan


def test_approvers_hear_of_a_new_request_and_the_requester_gets_a_receipt(
    requester, approver, second_approver, eager_celery, django_capture_on_commit_callbacks, settings
):
    settings.PORTAL_URL = "https://portal.example.com"
    UserFactory(username="root", is_superuser=True, email="root@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        tenant = services.tenant_request_submit(
            owner=requester,
            slug="news",
            display_name="News <b>site</b>",
            plan=plan("medium"),
            wordpress_version="6.7",
            admin_email="n@example.com",
        )
    by_subject = {m.subject: m for m in mail.outbox}
    message = by_subject.pop("[Tenant portal] New request: news")
    assert sorted(message.to) == ["carol@example.com", "dave@example.com", "root@example.com"]
    assert "alice asked for a WordPress tenant" in message.body
    assert "Title: News <b>site</b>" in message.body  # plain text: no HTML escaping
    assert "Plan: Medium" in message.body
    assert f"https://portal.example.com/tenants/approvals/{tenant.pk}/" in message.body
    [receipt] = by_subject.values()
    assert receipt.subject == "[Tenant portal] Request filed: news"
    # The account's address and the admin e-mail typed on the form.
    assert sorted(receipt.to) == ["alice@example.com", "n@example.com"]
    assert f"https://portal.example.com/tenants/{tenant.pk}/" in receipt.body


def test_requester_hears_of_approval_and_ready(
    requester, approver, eager_celery, django_capture_on_commit_callbacks, settings
):
    settings.PORTAL_URL = "https://portal.example.com"
    tenant = TenantFactory(owner=requester, slug="blog", admin_email="web@example.org")
    with django_capture_on_commit_callbacks(execute=True):
        services.tenant_approve(tenant_id=tenant.pk, actor=approver)
    subjects = {m.subject: m for m in mail.outbox}
    assert set(subjects) == {"[Tenant portal] Approved: blog", "[Tenant portal] Ready: blog"}
    assert all(sorted(m.to) == ["alice@example.com", "web@example.org"] for m in mail.outbox)
    assert "approved by carol" in subjects["[Tenant portal] Approved: blog"].body
    ready = subjects["[Tenant portal] Ready: blog"].body
    assert "Site: http://wordpress-blog.local/" in ready  # no certificate issuer: plain http
    for message in mail.outbox:
        assert f"https://portal.example.com/tenants/{tenant.pk}/" in message.body

    # Each event is mailed once, however often its notification runs.
    notifications.notify_ready(tenant.pk)
    notifications.notify_decision(tenant.pk)
    assert len(mail.outbox) == 2

    # A reconcile of the ready site is no news: no second "ready".
    tenant.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        services.tenant_reconcile(tenant=tenant, actor=approver)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY
    assert len(mail.outbox) == 2


def test_ready_after_a_failure_is_mailed(requester, approver):
    from tenants.audit import audit_record

    tenant = TenantFactory(owner=requester, slug="back", state="ready", admin_email="")
    for action in ("tenant.ready", "tenant.failed", "tenant.ready"):
        audit_record(action=action, obj=tenant)
    notifications.notify_ready(tenant.pk)
    [message] = mail.outbox
    assert message.subject == "[Tenant portal] Ready: back"


def test_ready_mail_is_https_when_tenants_have_certificates(requester, settings):
    settings.PORTAL_CERT_ISSUER = "letsencrypt"
    tenant = TenantFactory(owner=requester, slug="safe", state="ready", admin_email="")
    notifications.notify_ready(tenant.pk)
    [message] = mail.outbox
    assert "Site: https://wordpress-safe.local/" in message.body


def test_requester_hears_of_rejection_with_the_reason(
    requester, approver, eager_celery, django_capture_on_commit_callbacks
):
    tenant = TenantFactory(owner=requester, slug="big")
    with django_capture_on_commit_callbacks(execute=True):
        services.tenant_reject(tenant_id=tenant.pk, actor=approver, reason="Use 'small' & retry")
    [message] = mail.outbox
    assert message.subject == "[Tenant portal] Rejected: big"
    assert sorted(message.to) == ["alice@example.com", "owner@example.com"]
    assert "Reason: Use 'small' & retry" in message.body
    assert f"/tenants/{tenant.pk}/edit/" in message.body


def test_requester_hears_of_failure_in_plain_words_and_admins_in_detail(
    requester, approver, settings
):
    settings.PORTAL_URL = "https://portal.example.com"
    tenant = TenantFactory(owner=requester, slug="broken", state="failed", decided_by=approver)
    Tenant.objects.filter(pk=tenant.pk).update(
        last_error="The database step failed: MariaDB is not reachable"
    )
    run = Run.objects.create(tenant=tenant, action="apply", reason="approved", status="failed")
    StepRun.objects.create(run=run, name="database", position=1, status="failed")
    notifications.notify_failed(tenant.pk)
    mine, admins = sorted(mail.outbox, key=lambda m: "carol@example.com" in m.to)
    assert sorted(mine.to) == ["alice@example.com", "owner@example.com"]
    assert mine.subject == "[Tenant portal] Provisioning failed: broken"
    assert "stopped while creating the site's database" in mine.body
    assert "a platform admin was told" in mine.body and "carol@example.com" in mine.body
    assert "MariaDB" not in mine.body
    assert f"https://portal.example.com/tenants/{tenant.pk}/" in mine.body
    assert admins.to == ["carol@example.com"]
    assert admins.subject == "[Tenant portal] Failed, needs an admin: broken"
    assert "The database step failed: MariaDB is not reachable" in admins.body
    assert f"https://portal.example.com/tenants/{tenant.pk}/" in admins.body


def test_no_mail_without_an_address(approver):
    owner = UserFactory(username="noaddress", email="")
    tenant = TenantFactory(owner=owner, slug="quiet", admin_email="")
    notifications.notify_ready(tenant.pk)
    assert mail.outbox == []


def test_the_failure_mail_prints_the_error_as_written(requester, approver):
    tenant = TenantFactory(owner=requester, slug="odd", state="failed")
    Tenant.objects.filter(pk=tenant.pk).update(last_error='Quota <exceeded> & "retry" later')
    notifications.notify_failed(tenant.pk)
    [admins] = [m for m in mail.outbox if m.to == ["carol@example.com"]]
    assert 'Quota <exceeded> & "retry" later' in admins.body


def test_no_template_marks_text_safe():
    templates = Path(settings.BASE_DIR) / "templates"
    marked = [
        str(path.relative_to(templates))
        for path in templates.rglob("*")
        if path.is_file() and re.search(r"\|\s*safe\b", path.read_text())
    ]
    assert not marked, f"|safe in {marked}: mails turn autoescape off instead"


def test_approvers_are_reminded_of_a_waiting_request_once_per_period(
    requester, approver, eager_celery, django_capture_on_commit_callbacks, settings
):
    from datetime import timedelta

    from django.utils import timezone

    from tenants.tasks import remind_approvers

    settings.PORTAL_REMINDER_DAYS = 2
    with django_capture_on_commit_callbacks(execute=True):
        tenant = services.tenant_request_submit(
            owner=requester,
            slug="slow",
            display_name="Slow",
            plan=plan("small"),
            wordpress_version="6.8",
            admin_email="slow@example.com",
        )
    mail.outbox.clear()
    remind_approvers()  # filed just now: nothing to remind of
    now = timezone.now()
    assert notifications.notify_waiting_requests(now + timedelta(days=1)) == 0
    assert mail.outbox == []
    for days in (2, 3, 3):  # a second reminder only once two more days went by
        notifications.notify_waiting_requests(now + timedelta(days=days, minutes=1))
    [reminder] = mail.outbox
    assert reminder.subject == "[Tenant portal] Waiting 2 days: slow"
    assert reminder.to == ["carol@example.com"]
    assert f"/tenants/approvals/{tenant.pk}/" in reminder.body
    notifications.notify_waiting_requests(now + timedelta(days=4, minutes=1))
    assert [m.subject for m in mail.outbox][-1] == "[Tenant portal] Waiting 4 days: slow"
    # A decided request is no longer waiting.
    services.tenant_reject(tenant_id=tenant.pk, actor=approver, reason="no")
    mail.outbox.clear()
    assert notifications.notify_waiting_requests(now + timedelta(days=9)) == 0


def test_the_admin_list_hears_of_new_requests_too(requester, settings):
    settings.PORTAL_ADMIN_EMAILS = ["team@example.com"]
    UserFactory(username="noaddress-admin", role="approver", email="")
    tenant = TenantFactory(owner=requester, slug="listed")
    notifications.notify_new_request(tenant.pk)
    [new] = [m for m in mail.outbox if m.subject == "[Tenant portal] New request: listed"]
    assert new.to == ["team@example.com"]
