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
