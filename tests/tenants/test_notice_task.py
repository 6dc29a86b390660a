"""The engine's mails go through a worker's task: never sent inside a reconcile's lease, sent
with the SMTP timeout, and tried again while the mail server is away."""

from django.core import mail

from provisioning import engine
from tenants import services
from tenants.models import MailSent, Tenant
from tests.factories import TenantFactory
from tests.smtp import FlakyBackend


def test_the_engine_queues_its_mail_and_a_worker_sends_it(
    requester, approver, django_capture_on_commit_callbacks, eager_celery, mailoutbox
):
    tenant = TenantFactory(owner=requester, slug="mailed")
    with django_capture_on_commit_callbacks(execute=False):
        services.tenant_approve(tenant_id=tenant.pk, actor=approver)
    mailoutbox.clear()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert engine.reconcile(tenant.pk) is None
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY
    assert not mailoutbox, "the engine sent mail itself, inside its lease"
    for callback in queued:
        callback()  # the commit hands it to the task (eager here: the worker)
    assert [m.subject for m in mailoutbox] == ["[Tenant portal] Ready: mailed"]


def test_a_mail_the_server_refused_is_tried_again_and_sent_once(requester, settings):
    settings.EMAIL_BACKEND = "tests.smtp.FlakyBackend"
    FlakyBackend.failures, FlakyBackend.tries = 2, 0
    tenant = TenantFactory(owner=requester, slug="flaky", state="ready", admin_email="")
    from tenants.audit import audit_record
    from tenants.models import AuditEvent
    from tenants.tasks import send_notice

    audit_record(action=AuditEvent.Action.TENANT_READY, obj=tenant)
    # As a worker runs it: each refusal retries the task (apply runs the retries in turn).
    send_notice.apply(("ready", tenant.pk), throw=False)
    assert FlakyBackend.tries == 3
    assert [m.subject for m in mail.outbox] == ["[Tenant portal] Ready: flaky"]
    assert MailSent.objects.filter(kind="ready").count() == 1
    send_notice.apply(("ready", tenant.pk))  # delivered twice: no second mail
    assert len(mail.outbox) == 1


def test_mail_has_a_timeout(settings):
    from portal import settings as portal_settings

    assert portal_settings.EMAIL_TIMEOUT == 10
