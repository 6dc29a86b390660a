"""Password sign-in: on for the embedded default, off (but for superusers in the admin) with SSO."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils.html import escape

from portal.auth.adapters import PASSWORD_OFF
from portal.auth.admin_login import SUPERUSERS_ONLY
from portal.auth.config import oidc_providers
from tenants.models import AuditEvent
from tests.factories import UserFactory, plan

PASSWORD = "pw-for-tests-only"


@pytest.fixture
def sso(settings):
    """Authentik configured; these pages never need to reach it."""
    settings.PORTAL_OIDC_ENABLED = True
    settings.SOCIALACCOUNT_PROVIDERS = oidc_providers(
        server_url="http://127.0.0.1:9/application/o/portal/",
        client_id="portal",
        secret="unused",
        token_auth_method="client_secret_basic",
    )


@pytest.fixture
def superuser(db):
    user = UserFactory(username="root-admin", role="approver")
    user.is_superuser = user.is_staff = True
    user.save()
    return user


def _signed_in(client) -> bool:
    return client.get("/tenants/").status_code == 200


def test_the_run_commands_administrator_signs_in_with_the_printed_password(client, db):
    out = StringIO()
    call_command("portal_first_admin", stdout=out)
    password = re.search(r"password:\s+(\S+)", out.getvalue()).group(1)

    page = client.get("/accounts/login/").content.decode()
    response = client.post("/accounts/login/", {"login": "admin", "password": password})

    assert 'name="password"' in page and "Sign in with Authentik" not in page
    assert response.status_code == 302 and response["Location"] == "/tenants/"
    assert "Platform admin" in client.get("/tenants/").content.decode()


def test_a_wrong_password_is_refused_and_audited(client, superuser):
    response = client.post("/accounts/login/", {"login": "root-admin", "password": "wrong"})

    assert response.status_code == 200 and "not correct" in response.content.decode()
    assert not _signed_in(client)
    failed = AuditEvent.objects.get(action=AuditEvent.Action.USER_LOGIN_FAILED)
    assert failed.actor_name == "root-admin" and "wrong" not in failed.message


def test_with_sso_the_login_page_offers_only_authentik(client, db, sso):
    page = client.get("/accounts/login/?next=/tenants/").content.decode()

    assert "Sign in with Authentik" in page
    assert 'action="/accounts/oidc/authentik/login/?next=%2Ftenants%2F"' in page
    assert 'name="password"' not in page


def test_with_sso_the_portal_refuses_passwords_even_a_superusers(client, superuser, sso):
    response = client.post("/accounts/login/", {"login": "root-admin", "password": PASSWORD})

    assert PASSWORD_OFF in response.content.decode()
    assert not _signed_in(client)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.USER_LOGIN_FAILED).count() == 1


def test_with_sso_the_admin_login_takes_only_superusers(client, superuser, approver, sso):
    refused = client.post("/admin/login/", {"username": "carol", "password": PASSWORD})
    assert refused.status_code == 200
    assert escape(SUPERUSERS_ONLY) in refused.content.decode()
    assert client.get("/admin/").status_code == 302

    allowed = client.post("/admin/login/", {"username": "root-admin", "password": PASSWORD})
    assert allowed.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_without_sso_staff_may_use_the_admin_login(client, approver):
    response = client.post("/admin/login/", {"username": "carol", "password": PASSWORD})

    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_the_auditor_reads_the_admin_and_changes_nothing(client, auditor, approver):
    small = plan()
    client.force_login(auditor)
    assert client.get("/admin/tenants/auditevent/").status_code == 200
    assert client.get(f"/admin/tenants/plan/{small.pk}/change/").status_code == 200
    assert client.get("/admin/tenants/plan/add/").status_code == 403
    response = client.post(f"/admin/tenants/plan/{small.pk}/change/", {"name": "renamed"})
    assert response.status_code == 403

    client.force_login(approver)
    assert client.get("/admin/tenants/plan/add/").status_code == 200
