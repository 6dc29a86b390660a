"""Rate limits on filing requests and on every change a user makes: a clear "try again in N
minutes", the form kept, Retry-After set, and counts shared by every process."""

import os
import subprocess
import sys
from html import escape
from pathlib import Path

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from api import tokens
from api.models import ApiToken, WebhookEndpoint
from portal import ratelimit
from tenants import services
from tenants.models import AuditEvent, Tenant
from tests.factories import TenantFactory, UserFactory, request_form_data

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def limits(settings):
    # Windows of a day: no test run straddles a window's end by chance.
    settings.PORTAL_RATE_LIMIT_REQUESTS = "2/86400"
    settings.PORTAL_RATE_LIMIT_ACTIONS = "3/86400"
    settings.PORTAL_MAX_TENANTS_PER_USER = 50
    return settings


def flashed(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_third_filing_waits_with_the_form_kept(
    client_for, requester, approver, limits, eager_celery, django_capture_on_commit_callbacks
):
    client = client_for(requester)
    # The mails are queued on commit: run those callbacks (and the mail task in-process), so
    # a mail about the refused filing would show in the outbox.
    with django_capture_on_commit_callbacks(execute=True):
        for slug in ("one", "two"):
            filed = client.post(reverse("tenants:request"), request_form_data(slug=slug))
            assert filed.status_code == 302
    mails = len(mail.outbox)
    assert mails >= 2  # each filing mailed its approver

    data = request_form_data(slug="three", display_name="Third <try>")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("tenants:request"), data)

    page = response.content.decode()
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 86400
    assert "You filed 2 requests in 1440 minutes; try again in " in page
    assert 'value="three"' in page and f'value="{escape("Third <try>")}"' in page
    assert not Tenant.objects.filter(slug="three").exists()
    assert len(mail.outbox) == mails  # no approver was mailed about it


def test_every_change_counts_towards_the_action_limit(client_for, requester, limits):
    tenant = TenantFactory(owner=requester, state="ready")
    client = client_for(requester)
    url = reverse("tenants:reconcile", args=[tenant.pk])
    for _ in range(3):
        client.post(url)
    reconciles = AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_RECONCILED)
    reconciled = reconciles.count()

    response = client.post(url)

    assert response.status_code == 302 and response["Location"] == tenant.get_absolute_url()
    assert int(response["Retry-After"]) > 0
    assert flashed(response)[-1].startswith("Too many changes; try again in ")
    assert reconciles.count() == reconciled


def test_decisions_count_too_and_each_user_has_their_own_limit(
    client_for, approver, second_approver, limits
):
    limits.PORTAL_RATE_LIMIT_ACTIONS = "1/86400"
    first, second = TenantFactory(state="requested"), TenantFactory(state="requested")
    client = client_for(approver)
    client.post(reverse("tenants:approval", args=[first.pk]), {"decision": "approve"})

    response = client.post(reverse("tenants:approval", args=[second.pk]), {"decision": "approve"})

    assert "Too many changes; try again in " in flashed(response)[-1]
    assert Tenant.objects.get(pk=second.pk).state == "requested"
    other = client_for(second_approver)
    other.post(reverse("tenants:approval", args=[second.pk]), {"decision": "approve"})
    assert Tenant.objects.get(pk=second.pk).state != "requested"


def test_the_wait_is_said_in_minutes():
    assert str(ratelimit.RateLimited("Too many", retry_after=5)) == (
        "Too many; try again in 1 minute."
    )
    assert ratelimit.RateLimited("Too many", retry_after=3599).message.endswith("in 60 minutes.")


@pytest.mark.parametrize("value", ["10", "ten/3600", "0/60", "10/0", "10/60/2", ""])
def test_a_malformed_rate_says_what_it_should_be(settings, value):
    settings.PORTAL_RATE_LIMIT_REQUESTS = value
    with pytest.raises(ImproperlyConfigured, match="count/seconds, e.g. 10/3600"):
        ratelimit.parse_rate("PORTAL_RATE_LIMIT_REQUESTS")


@pytest.mark.integration
def test_another_process_counts_against_the_same_limit(transactional_db, limits):
    user = UserFactory(username="burst")
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/"
        f"{db['NAME']}",
        "PORTAL_RATE_LIMIT_REQUESTS": "2/86400",
    }
    script = (
        "import django; django.setup()\n"
        "from django.contrib.auth.models import User\n"
        "from portal import ratelimit\n"
        f"ratelimit.limit_filing(User.objects.get(pk={user.pk}))\n"
        f"ratelimit.limit_filing(User.objects.get(pk={user.pk}))\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=120)

    with pytest.raises(ratelimit.RateLimited, match="You filed 2 requests"):
        ratelimit.limit_filing(user)


def test_a_resubmit_past_the_limit_waits_with_the_edits_kept(
    client_for, requester, approver, limits
):
    limits.PORTAL_RATE_LIMIT_ACTIONS = "1/86400"
    tenant = TenantFactory(owner=requester, slug="again")
    services.tenant_reject(tenant_id=tenant.pk, actor=approver, reason="Use a larger plan.")
    client = client_for(requester)
    client.post(reverse("tenants:reconcile", args=[TenantFactory(owner=requester).pk]))
    data = request_form_data(slug="again", display_name="Second <try>")

    response = client.post(reverse("tenants:resubmit", args=[tenant.pk]), data)

    page = response.content.decode()
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 86400
    assert "Too many changes; try again in " in page
    assert f'value="{escape("Second <try>")}"' in page
    assert Tenant.objects.get(pk=tenant.pk).state == Tenant.State.REJECTED
    assert not AuditEvent.objects.filter(action="tenant.resubmitted").exists()


def test_tokens_made_past_the_limit_write_no_audit_row(client_for, requester, limits):
    client = client_for(requester)
    for n in range(3):
        assert (
            client.post(reverse("api_tokens:list"), {"name": f"t{n}", "days": 30}).status_code
            == 200
        )
    created = AuditEvent.objects.filter(action=AuditEvent.Action.TOKEN_CREATED)
    assert created.count() == 3

    response = client.post(reverse("api_tokens:list"), {"name": "loop <4>", "days": 30})

    page = response.content.decode()
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 86400
    assert "Too many changes; try again in " in page
    assert f'value="{escape("loop <4>")}"' in page and "ptk_" not in page.split("Your tokens")[0]
    assert created.count() == 3
    assert not ApiToken.objects.filter(name="loop <4>").exists()


def test_a_revoke_past_the_limit_leaves_the_token_working(client_for, requester, limits):
    limits.PORTAL_RATE_LIMIT_ACTIONS = "1/86400"
    row, _ = tokens.token_create(user=requester, name="ci", days=30)
    client = client_for(requester)
    client.post(reverse("tenants:reconcile", args=[TenantFactory(owner=requester).pk]))

    response = client.post(reverse("api_tokens:revoke", args=[row.pk]))

    assert response.status_code == 302 and response["Location"] == reverse("api_tokens:list")
    assert int(response["Retry-After"]) > 0
    assert flashed(response)[-1].startswith("Too many changes; try again in ")
    row.refresh_from_db()
    assert row.revoked_at is None


def test_webhooks_count_towards_the_limit_with_429(requester, limits):
    limits.PORTAL_RATE_LIMIT_ACTIONS = "2/86400"
    tenant = TenantFactory(owner=requester)
    client = APIClient()
    client.force_authenticate(requester)
    body = {"url": "https://hooks.example.org/x", "events": ["tenant.ready"], "tenant": tenant.pk}
    made = client.post("/api/v1/webhooks/", body, format="json")
    assert made.status_code == 201
    assert client.post("/api/v1/webhooks/", body, format="json").status_code == 201

    refused = client.post("/api/v1/webhooks/", body, format="json")
    kept = client.delete(f"/api/v1/webhooks/{made.json()['id']}/")

    for response in (refused, kept):
        assert response.status_code == 429
        assert 0 < int(response["Retry-After"]) <= 86400
        assert response.json()["detail"].startswith("Too many changes; try again in ")
    assert WebhookEndpoint.objects.filter(tenant=tenant).count() == 2
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.WEBHOOK_DELETED).exists()
