"""Sign-in through a real OpenID Connect provider on loopback, walked with a real HTTP client."""

import base64
import json
import re
import time
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit, urlunsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection

from portal import roles
from portal.auth import endsession
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


def redirects(browser, base: str) -> list[str]:
    """Walk the flow up to the provider's redirect back to the portal; return every redirect,
    the authorization request first and the callback URL last."""
    response = _start_sign_in(browser, base, allow_redirects=False, timeout=10)
    seen = []
    for _ in range(10):
        seen.append(urljoin(response.url, response.headers["Location"]))
        if seen[-1].startswith(base + CALLBACK):
            return seen
        response = browser.get(seen[-1], allow_redirects=False, timeout=10)
    raise AssertionError("the provider never redirected back to the portal")


def callback_url(browser, base: str) -> str:
    return redirects(browser, base)[-1]


def claims_of(id_token: str) -> dict:
    """The payload of a compact JWT, unverified: the test only reads what the provider sent."""
    payload = id_token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


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
        # The very ID token the provider issued at this sign-in, kept in the session till now.
        "id_token_hint": [idp.issued_id_tokens()[-1]],
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


def test_each_sign_in_sends_a_fresh_nonce_and_the_id_token_carries_it_back(
    idp, live_server, browser
):
    idp.sign_in_as("ivan")
    nonces = []
    for _ in range(2):
        browser.cookies.clear()
        seen = redirects(browser, live_server.url)
        nonce = parse_qs(urlsplit(seen[0]).query)["nonce"][0]

        page = browser.get(seen[-1])

        assert page.url == f"{live_server.url}/tenants/" and "Ivan" in page.text
        assert claims_of(idp.issued_id_tokens()[-1])["nonce"] == nonce
        nonces.append(nonce)
    assert nonces[0] != nonces[1] and len(nonces[0]) >= 32


@pytest.mark.parametrize(
    ("nonce", "reason"),
    [
        ("a-nonce-from-some-other-sign-in", "nonce did not match"),
        (None, "carried no nonce"),
    ],
    ids=["wrong-nonce", "no-nonce"],
)
def test_an_id_token_without_this_sign_ins_nonce_ends_on_the_error_page(
    idp, live_server, browser, nonce, reason
):
    idp.sign_in_as("mallory", groups=["portal-admins"], id_token={"nonce": nonce})

    page = sign_in(browser, live_server.url)

    assert claims_of(idp.issued_id_tokens()[-1]).get("nonce") == nonce
    _assert_failed_cleanly(browser, live_server.url, page, reason)
    assert not get_user_model().objects.filter(username="mallory").exists()


def _tables_holding(text: str) -> set[str]:
    """Every table of the portal database with a row whose text contains `text`."""
    with connection.cursor() as cursor:
        found = set()
        for table in connection.introspection.table_names(cursor):
            cursor.execute(
                f'SELECT 1 FROM "{table}" AS t WHERE strpos(t::text, %s) > 0 LIMIT 1', [text]
            )
            if cursor.fetchone():
                found.add(table)
    return found


def test_the_raw_id_token_is_kept_in_the_session_only_and_goes_with_it(idp, live_server, browser):
    idp.sign_in_as("judy", groups=["portal-auditors"])
    page = sign_in(browser, live_server.url)
    id_token = idp.issued_id_tokens()[-1]
    header, payload, signature = id_token.split(".")

    # Sessions are stored base64-encoded: look into the signed-in session itself.
    session = SessionStore(session_key=browser.cookies["sessionid"])
    assert session[endsession.SESSION_KEY]["id_token"] == id_token
    account = SocialAccount.objects.get(user__username="judy")
    assert account.extra_data["id_token"]["sub"] == "judy"  # the checked claims, not the token
    assert not SocialToken.objects.exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.USER_LOGIN).exists()
    # The search does see the socialaccount rows: the checked nonce claim is in there.
    assert "socialaccount_socialaccount" in _tables_holding(claims_of(id_token)["nonce"])
    for part in (payload, signature):
        assert _tables_holding(part) <= {"django_session"}

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    browser.post(f"{live_server.url}/accounts/logout/", data={"csrfmiddlewaretoken": token})

    assert not SessionStore().exists(session.session_key)
    for part in (payload, signature):
        assert _tables_holding(part) == set()
