"""Error and account pages in the portal's layout; an expired CSRF token keeps what was typed."""

import re

from django.db import DatabaseError
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from portal import errorpages
from tenants.models import Tenant
from tests.factories import TenantFactory, request_form_data

STYLED = "portal/portal.css"


def test_unknown_page_is_styled_404(client_for, requester):
    response = client_for(requester).get("/no/such/page/")
    page = response.content.decode()
    assert response.status_code == 404 and STYLED in page and "Not found" in page


def test_opening_an_action_url_explains_and_links_back(client_for, requester):
    tenant = TenantFactory(owner=requester, state="ready")
    response = client_for(requester).get(reverse("tenants:retry", args=[tenant.pk]))
    page = response.content.decode()
    assert response.status_code == 405 and response["Allow"] == "POST, OPTIONS"
    assert STYLED in page and "Not a page to open" in page
    assert f'href="/tenants/{tenant.pk}/"' in page


def test_the_api_keeps_its_own_405(client_for, requester):
    response = client_for(requester).delete("/api/v1/plans/")
    assert response.status_code == 405 and response["Content-Type"] == "application/json"


def test_server_error_page_is_styled_and_survives_a_broken_database():
    request = RequestFactory().get("/")
    page = errorpages.server_error(request)
    assert page.status_code == 500 and STYLED in page.content.decode()

    def broken():
        raise DatabaseError("the database is gone")

    request.user = SimpleLazyObject(broken)
    page = errorpages.server_error(request)
    assert page.status_code == 500 and "Something went wrong" in page.content.decode()


def test_an_expired_csrf_token_keeps_the_form_to_send_again(requester):
    client = Client(enforce_csrf_checks=True)
    client.force_login(requester)
    data = request_form_data(slug="kept", display_name="Typed <with> care")
    response = client.post(reverse("tenants:request"), {**data, "csrfmiddlewaretoken": "stale"})
    page = response.content.decode()
    assert response.status_code == 403 and STYLED in page
    assert "Your form was not sent yet" in page and "DEBUG" not in page
    assert '<input type="hidden" name="slug" value="kept">' in page
    assert 'value="Typed &lt;with&gt; care"' in page
    assert not Tenant.objects.filter(slug="kept").exists()

    # "Send again" posts the same fields with a fresh token, and the request is filed.
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    fields = {k: v.replace("&lt;", "<").replace("&gt;", ">") for k, v in fields.items()}
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1]
    again = client.post(reverse("tenants:request"), {**fields, "csrfmiddlewaretoken": token})
    assert again.status_code == 302
    assert Tenant.objects.get(slug="kept").display_name == "Typed <with> care"


def test_a_password_is_never_written_back(requester):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("account_login"), {"login": "alice", "password": "hunter2-secret"}
    )
    page = response.content.decode()
    assert response.status_code == 403
    assert "hunter2-secret" not in page and 'name="login" value="alice"' in page
    assert "Passwords are not kept" in page


def test_account_pages_are_in_the_portal_layout_without_sign_up(client, client_for, requester):
    page = client_for(requester).get(reverse("account_change_password")).content.decode()
    assert STYLED in page and 'class="form card"' in page and 'class="primary"' in page
    assert "Sign Up" not in page and "Menu:" not in page
    client.logout()
    for name in ("account_reset_password", "account_signup"):
        page = client.get(reverse(name)).content.decode()
        assert STYLED in page and "Sign Up<" not in page and "Menu:" not in page


def test_profile_shows_email_role_and_account_links(client_for, requester):
    page = client_for(requester).get(reverse("profile")).content.decode()
    assert "alice@example.com" in page and ">Requester<" in page
    assert reverse("account_change_password") in page and reverse("api_tokens:list") in page
    assert f'href="{reverse("profile")}"' in page  # the top bar links it
