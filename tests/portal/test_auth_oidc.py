"""Sign-in through a real OpenID Connect provider on loopback, walked with a real HTTP client."""

import re
import time
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import pytest
import requests
from django.contrib.auth import get_user_model

from portal import roles
from portal.auth.config import oidc_providers
from tenants.models import AuditEvent
from tests.fakes import oidc

pytestmark = pytest.mark.integration

CLIENT_ID = "portal"
CLIENT_SECRET = "fake-oidc-client-secret-for-tests-only"
CALLBACK = "/accounts/oidc/authentik/login/callback/"


@pytest.fixture(scope="session")
def oidc_provider(live_server):
    fake = oidc.start(
        slug="portal",
        clients=[
            {
                "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET,
                "redirect_uris": [live_server.url + CALLBACK],
                "post_logout_redirect_uris": [live_server.url + "/accounts/login/"],
                "token_endpoint_auth_method": "client_secret_basic",
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
            }
        ],
    )
    yield fake
    fake.stop()


@pytest.fixture
def idp(settings, transactional_db, oidc_provider):
    """The portal configured for the provider exactly as the PORTAL_OIDC_* variables do it."""
    settings.PORTAL_OIDC_ENABLED = True
    settings.SOCIALACCOUNT_PROVIDERS = oidc_providers(
        server_url=oidc_provider.issuer,  # with its trailing slash, as people paste it
        client_id=CLIENT_ID,
        secret=CLIENT_SECRET,
        token_auth_method="client_secret_basic",
    )
    return oidc_provider


@pytest.fixture
def browser():
    with requests.Session() as session:
        yield session


def _start_sign_in(browser, base: str, **kwargs) -> requests.Response:
    """Open the login page and press "Sign in with Authentik" (a POST carrying the CSRF token)."""
    page = browser.get(f"{base}/accounts/login/")
    assert "Sign in with Authentik" in page.text
    action = re.search(r'<form method="post" action="([^"]+)">', page.text).group(1)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return browser.post(urljoin(base, action), data={"csrfmiddlewaretoken": token}, **kwargs)


def sign_in(browser, base: str) -> requests.Response:
    return _start_sign_in(browser, base, timeout=10)


def callback_url(browser, base: str) -> str:
    """Walk the flow up to the provider's redirect back to the portal; return that URL."""
    response = _start_sign_in(browser, base, allow_redirects=False, timeout=10)
    for _ in range(10):
        location = urljoin(response.url, response.headers["Location"])
        if location.startswith(base + CALLBACK):
            return location
        response = browser.get(location, allow_redirects=False, timeout=10)
    raise AssertionError("the provider never redirected back to the portal")


def signed_in(browser, base: str) -> bool:
    response = browser.get(f"{base}/tenants/", allow_redirects=False, timeout=10)
    return response.status_code == 200


def _user(username: str):
    user = get_user_model().objects.get(username=username)
    user._portal_role = None
    return user


@pytest.mark.parametrize(
    ("groups", "role"),
    [
        ([], roles.Role.REQUESTER),
        (["portal-admins"], roles.Role.APPROVER),
        (["portal-auditors"], roles.Role.AUDITOR),
        (["portal-auditors", "portal-admins", "staff"], roles.Role.APPROVER),
    ],
)
def test_first_sign_in_creates_the_user_with_the_role_of_their_groups(
    idp, live_server, browser, groups, role
):
    idp.sign_in_as("frank", groups=groups, name="Frank Meier", email="frank@example.org")

    page = sign_in(browser, live_server.url)

    assert page.status_code == 200
    assert page.url == f"{live_server.url}/tenants/"
    assert "Frank Meier" in page.text and role.label in page.text
    user = _user("frank")
    assert (user.email, user.first_name, user.last_name) == ("frank@example.org", "Frank", "Meier")
    assert roles.role_of(user) == role
    assert user.is_staff == (role != roles.Role.REQUESTER)
    assert not user.has_usable_password()
    change = AuditEvent.objects.get(action=AuditEvent.Action.USER_ROLE_CHANGED)
    assert change.before == {"role": None} and change.after["role"] == role.value
    assert AuditEvent.objects.filter(action=AuditEvent.Action.USER_LOGIN, actor=user).exists()


def test_removal_from_the_group_takes_the_role_away_at_the_next_sign_in(idp, live_server, browser):
    idp.sign_in_as("grace", groups=["portal-admins"])
    sign_in(browser, live_server.url)
    assert browser.get(f"{live_server.url}/tenants/approvals/").status_code == 200

    idp.sign_in_as("grace", groups=["other-team"], name="Grace Hopper")
    browser.cookies.clear()
    page = sign_in(browser, live_server.url)

    assert "Requester" in page.text and "Grace Hopper" in page.text
    assert browser.get(f"{live_server.url}/tenants/approvals/").status_code == 403
    user = _user("grace")
    assert roles.role_of(user) == roles.Role.REQUESTER and not user.is_staff
    assert get_user_model().objects.filter(username__startswith="grace").count() == 1
    last = (
        AuditEvent.objects.filter(action=AuditEvent.Action.USER_ROLE_CHANGED).order_by("id").last()
    )
    assert last.before == {"role": "approver"}
    assert last.after == {"role": "requester", "groups": ["other-team"]}


def _assert_failed_cleanly(browser, base: str, page: requests.Response, reason: str) -> None:
    assert page.status_code == 400
    assert "Sign-in failed" in page.text and "you are not signed in" in page.text
    assert not signed_in(browser, base)
    failure = AuditEvent.objects.get(action=AuditEvent.Action.USER_LOGIN_FAILED)
    assert reason in failure.message
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.USER_LOGIN).exists()


def test_a_tampered_state_ends_on_the_error_page_without_a_session(idp, live_server, browser):
    idp.sign_in_as("mallory", groups=["portal-admins"])
    url = urlsplit(callback_url(browser, live_server.url))
    query = parse_qs(url.query)
    query["state"] = ["x" + query["state"][0][1:]]

    page = browser.get(urlunsplit(url._replace(query=urlencode(query, doseq=True))))

    _assert_failed_cleanly(browser, live_server.url, page, "state")
    assert not get_user_model().objects.filter(username="mallory").exists()


@pytest.mark.parametrize(
    ("id_token", "reason"),
    [
        ({"iss": "http://127.0.0.1:1/application/o/elsewhere/"}, "Invalid issuer"),
        ({"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}, "expired"),
    ],
    ids=["wrong-issuer", "expired"],
)
def test_a_bad_id_token_ends_on_the_error_page_without_a_session(
    idp, live_server, browser, id_token, reason
):
    idp.sign_in_as("mallory", groups=["portal-admins"], id_token=id_token)

    page = sign_in(browser, live_server.url)

    _assert_failed_cleanly(browser, live_server.url, page, reason)
    assert not get_user_model().objects.filter(username="mallory").exists()


def test_sign_out_ends_the_portal_session_and_the_providers(idp, live_server, browser):
    idp.sign_in_as("heidi")
    page = sign_in(browser, live_server.url)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)

    response = browser.post(
        f"{live_server.url}/accounts/logout/",
        data={"csrfmiddlewaretoken": token},
        allow_redirects=False,
    )

    location = urlsplit(response.headers["Location"])
    assert (
        f"{location.scheme}://{location.netloc}{location.path}"
        == (
            requests.get(f"{idp.server_url}/.well-known/openid-configuration").json()[
                "end_session_endpoint"
            ]
        )
    )
    assert parse_qs(location.query) == {
        "client_id": [CLIENT_ID],
        "post_logout_redirect_uri": [f"{live_server.url}/accounts/login/"],
    }
    assert not signed_in(browser, live_server.url)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.USER_LOGOUT).count() == 1
    # The provider accepts the request, asks to confirm, and sends the browser back to us.
    confirm = browser.get(response.headers["Location"])
    assert confirm.status_code == 200
    form_action = re.search(r'action="([^"]+)"', confirm.text).group(1)
    xsrf = re.search(r'name="xsrf" value="([^"]+)"', confirm.text).group(1)
    back = browser.post(urljoin(confirm.url, form_action), data={"xsrf": xsrf, "logout": "yes"})
    assert back.url == f"{live_server.url}/accounts/login/"
    assert "Sign in with Authentik" in back.text


def test_an_authentik_name_taken_by_a_local_account_never_signs_in_as_it(
    idp, live_server, browser, requester
):
    idp.sign_in_as("alice", groups=["portal-admins"], name="Other Alice", email="a2@example.org")

    page = sign_in(browser, live_server.url)

    assert "Other Alice" in page.text and "Platform admin" in page.text
    newcomer = get_user_model().objects.get(email="a2@example.org")
    assert newcomer.username != "alice"
    assert roles.role_of(_user("alice")) == roles.Role.REQUESTER
