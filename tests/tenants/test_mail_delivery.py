"""Mails leave the page: a real Celery worker on Redis sends them to an SMTP server on loopback,
the page answers at once while the mail server hangs, and a mail server that is down loses
nothing (the worker tries again)."""

import time
from functools import partial

import pytest
from django.core import mail
from django.urls import reverse
from rest_framework.test import APIClient

from api.tokens import token_create
from tenants.models import MailSent, Tenant
from tests.factories import request_form_data
from tests.provisioning.servers import free_port
from tests.smtp import HangingSmtp, SmtpServer
from tests.workers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FILED = ["[Tenant portal] New request: mailed", "[Tenant portal] Request filed: mailed"]


def file_request(client, requester, via: str = "page") -> tuple[float, Tenant]:
    """A request filed as the requester on the page's form or through the API; returns the
    seconds the answer took."""
    if via == "api":
        client = APIClient()
        _, token = token_create(user=requester, name="mail-test", days=1)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        body = {**request_form_data(slug="mailed", admin_email="site@example.org"), "plan": "small"}
        send = partial(client.post, "/api/v1/tenants/", body, format="json")
    else:
        client.force_login(requester)
        data = request_form_data(slug="mailed", admin_email="site@example.org")
        send = partial(client.post, reverse("tenants:request"), data)
    began = time.monotonic()
    response = send()
    took = time.monotonic() - began
    assert response.status_code in (201, 302), response.content.decode()[:2000]
    return took, Tenant.objects.get(slug="mailed")


def test_a_worker_sends_the_mails_of_a_request_filed_on_the_page(
    client, requester, approver, mail_worker
):
    port = free_port()
    smtp = SmtpServer(port).start()
    try:
        worker = mail_worker(port)
        _, tenant = file_request(client, requester)
        assert mail.outbox == [], "the page sent mail itself"
        wait_until(lambda: smtp.subjects() == FILED, 60, "both mails at the server", worker.log)
    finally:
        smtp.stop()
    to = {str(m["Subject"]): m["X-Envelope-To"] for m in smtp.messages}
    assert to[FILED[0]] == "carol@example.com"
    assert to[FILED[1]] == "alice@example.com, site@example.org"
    page = f"/tenants/approvals/{tenant.pk}/"
    assert page in smtp.messages[0].get_payload() + smtp.messages[1].get_payload()


@pytest.mark.parametrize(("outage", "via"), [("hangs", "page"), ("down", "page"), ("hangs", "api")])
def test_a_mail_server_that_hangs_or_is_down_slows_no_page_and_loses_no_mail(
    client, requester, approver, mail_worker, settings, outage, via
):
    port = free_port()
    stuck = HangingSmtp(port) if outage == "hangs" else None
    # The web process pointed at the same server: a page that mailed itself would wait out
    # this timeout for each mail.
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 8
    smtp = None
    try:
        worker = mail_worker(port, PORTAL_EMAIL_TIMEOUT="1", PORTAL_EMAIL_RETRY_DELAY="1")
        took, tenant = file_request(client, requester, via)
        assert took < 3, f"the {via} took {took:.1f} s to answer with the mail server {outage}"
        wait_until(lambda: "retry: Retry in" in worker.log(), 60, "a retry", worker.log)
        assert MailSent.objects.count() == 0  # a mail not taken is not marked sent
        if stuck:
            stuck.stop()
        smtp = SmtpServer(port).start()  # the mail server is back
        wait_until(lambda: smtp.subjects() == FILED, 60, "both mails after the outage", worker.log)
        time.sleep(2)  # a duplicate would come with the next retry
        assert smtp.subjects() == FILED, "a mail was sent twice"
    finally:
        if stuck:
            stuck.stop()
        if smtp:
            smtp.stop()
    assert MailSent.objects.count() == 2
    assert tenant.state == Tenant.State.REQUESTED
