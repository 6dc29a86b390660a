"""Account mails leave the page too: the password-reset page answers at once while the mail
server hangs, a real worker sends the mail once the server is back, and its link works and is
in no log line."""

import re
import time

import pytest
from django.urls import reverse

from tests.factories import UserFactory
from tests.provisioning.servers import free_port
from tests.smtp import HangingSmtp, SmtpServer
from tests.workers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_reset_page_answers_while_the_mail_server_hangs_and_the_link_follows(
    client, mail_worker, settings
):
    UserFactory(username="forgetful", email="forgetful@example.com")
    port = free_port()
    stuck = HangingSmtp(port)
    # The web process pointed at the same server: a page that mailed itself would wait.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 8
    smtp = None
    try:
        worker = mail_worker(port, PORTAL_EMAIL_TIMEOUT="1", PORTAL_EMAIL_RETRY_DELAY="1")
        began = time.monotonic()
        response = client.post(
            reverse("account_reset_password"), {"email": "forgetful@example.com"}
        )
        took = time.monotonic() - began
        assert response.status_code == 302
        assert took < 3, f"the reset page took {took:.1f} s with the mail server hanging"
        wait_until(lambda: "retry: Retry in" in worker.log(), 60, "a retry", worker.log)
        stuck.stop()
        smtp = SmtpServer(port).start()
        wait_until(lambda: smtp.messages, 60, "the reset mail after the outage", worker.log)
        time.sleep(2)  # a duplicate would come with the next retry
        [sent] = smtp.messages
    finally:
        stuck.stop()
        if smtp:
            smtp.stop()
    assert sent["X-Envelope-To"] == "forgetful@example.com"
    body = sent.get_payload(decode=True).decode() if not sent.is_multipart() else sent.as_string()
    link = re.search(r"http://testserver(/accounts/password/reset/key/\S+)", body)
    assert link, body
    # The link, rendered by the page with the request's host, opens the set-a-password form.
    form = client.get(link[1], follow=True)
    assert form.status_code == 200 and 'name="password1"' in form.content.decode()
    key = link[1].rstrip("/").rsplit("/", 1)[-1]
    assert key not in worker.log(), "the reset link in the worker's log"


@pytest.fixture
def published():
    """The messages this process hands the broker for send_account_mail: (task id, args)."""
    from celery import signals

    seen: list[tuple[str, tuple]] = []

    def keep(sender=None, body=None, headers=None, **_):
        if sender == "portal.tasks.send_account_mail":
            seen.append((headers["id"], tuple(body[0])))

    signals.before_task_publish.connect(keep, weak=False)
    yield seen
    signals.before_task_publish.disconnect(keep)


def test_a_redelivered_reset_mail_is_sent_once(client, mail_worker, published):
    """The broker gives a worker the same message again (one died before acknowledging it, or
    two got it): the mail went out once, and the copies find its key and send nothing."""
    from portal.models import AccountMailSent
    from portal.tasks import send_account_mail

    UserFactory(username="forgetful", email="forgetful@example.com")
    port = free_port()
    smtp = SmtpServer(port).start()
    try:
        response = client.post(
            reverse("account_reset_password"), {"email": "forgetful@example.com"}
        )
        assert response.status_code == 302
        [(task_id, args)] = published
        # A second copy of the very message before any worker took either: two at once.
        send_account_mail.apply_async(args, task_id=task_id)
        worker = mail_worker(port, concurrency=2)
        wait_until(lambda: smtp.messages, 60, "the reset mail", worker.log)
        wait_until(
            lambda: "was sent already: not sent again" in worker.log(), 60, "the copy", worker.log
        )
        # And once more after both finished, as a redelivery hours later.
        send_account_mail.apply_async(args, task_id=task_id)
        wait_until(
            lambda: worker.log().count("was sent already") == 2, 60, "the late copy", worker.log
        )
        time.sleep(1)
        assert len(smtp.messages) == 1, "the reset mail was sent twice"
    finally:
        smtp.stop()
    assert AccountMailSent.objects.count() == 1
    key = re.search(r"/reset/key/(\S+)/", smtp.messages[0].get_payload(decode=True).decode())
    assert key and key[1] not in worker.log(), "the reset link in the worker's log"
