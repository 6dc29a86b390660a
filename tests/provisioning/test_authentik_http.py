"""The Authentik client's transport and readers against the fake: timeouts, no retries of its
own, TLS trouble, lists spread over pages, and servers that ignore a filter."""

import time

import pytest
import requests

from provisioning.drivers.authentik import AuthentikDriver
from provisioning.drivers.authentik_http import Missing
from provisioning.errors import StepFailed, TransientError

GROUPS = "/api/v3/core/groups/"
PROVIDERS = "/api/v3/providers/oauth2/"


def driver(fake, **transport) -> AuthentikDriver:
    return AuthentikDriver(fake.url, fake.token, **transport)


def hits(fake, path: str) -> int:
    return sum(1 for _, p in fake.requests if p == path)


@pytest.mark.usefixtures("no_request_retries")  # the engine's retry, not the driver's
def test_a_slow_answer_is_a_transient_error_after_the_read_timeout(authentik_api):
    authentik_api.add_group("editors")
    authentik_api.delay_next(GROUPS, 1.0)
    started = time.monotonic()

    with pytest.raises(TransientError, match=r"did not answer \(ReadTimeout\).*group editors"):
        driver(authentik_api, read_timeout=0.2).group_pk("editors")

    assert time.monotonic() - started < 0.9
    time.sleep(1.0)  # the fake answers late; by now it has seen every request made
    assert hits(authentik_api, GROUPS) == 1  # the client itself never tries again


@pytest.mark.usefixtures("no_request_retries")  # the engine's retry, not the driver's
@pytest.mark.parametrize("status", [502, 503])
def test_a_server_error_is_tried_once_and_left_to_the_engine(authentik_api, status):
    authentik_api.fail_next(GROUPS, status, times=5)

    with pytest.raises(TransientError, match=f"Authentik answered {status}"):
        driver(authentik_api).group_pk("editors")

    assert hits(authentik_api, GROUPS) == 1


def test_tls_trouble_is_a_configuration_error_naming_the_setting(authentik_api):
    # https to a plain-HTTP server: the handshake fails, as with a wrong certificate.
    https = AuthentikDriver(authentik_api.url.replace("http://", "https://"), authentik_api.token)

    with pytest.raises(StepFailed, match="TLS connection failed.*PORTAL_AUTHENTIK_VERIFY_TLS"):
        https.group_pk("editors")


def test_every_page_of_a_list_is_read(authentik_api):
    # An Authentik without the `name` filter answers all 150 groups, 100 a page.
    authentik_api.ignored_filters.add("name")
    for n in range(150):
        authentik_api.add_group(f"group-{n}")

    found = driver(authentik_api).group_pk("group-140")

    assert found == next(g["pk"] for g in authentik_api.groups.values() if g["name"] == "group-140")
    assert hits(authentik_api, GROUPS) == 2


def test_a_list_that_never_ends_fails_the_step(authentik_api):
    # A server whose `next` always points further: the client stops and says so.
    for page in range(1, 61):
        body = {"pagination": {"next": page + 1}, "results": []}
        authentik_api.fail_next(GROUPS, 200, body=body, method="GET")

    with pytest.raises(StepFailed, match="look up group editors runs over 50 pages"):
        driver(authentik_api).group_pk("editors")
    assert hits(authentik_api, GROUPS) == 50


def test_only_an_exact_match_counts_when_a_filter_is_ignored(authentik_api):
    authentik_api.ignored_filters.add("name")
    authentik_api.add_group("wp-acme-users-old")
    flow = next(iter(authentik_api.flows))
    authentik_api.handle(
        "POST",
        PROVIDERS,
        {},
        {
            "name": "someone-else",
            "authorization_flow": flow,
            "invalidation_flow": flow,
            "redirect_uris": [{"matching_mode": "strict", "url": "https://x.example/cb"}],
        },
    )

    assert driver(authentik_api).provider("wp-acme") is None
    with pytest.raises(StepFailed, match="no group named 'wp-acme-users'"):
        driver(authentik_api).group_pk("wp-acme-users")


def test_an_object_gone_between_look_up_and_change_is_tried_again(authentik_api):
    d = driver(authentik_api)
    authentik_api.fail_next(f"{PROVIDERS}7/", 404, method="PATCH")

    with pytest.raises(TransientError, match="lost the object while trying to update provider x"):
        d.provider_update(7, "x", {"name": "x"})


def test_a_delete_of_something_already_gone_is_no_error(authentik_api):
    assert driver(authentik_api).application_delete("never-was") is False
    assert driver(authentik_api).provider_delete(12345, "never-was") is False


def test_the_token_is_never_shown(authentik_api):
    d = driver(authentik_api)
    assert authentik_api.token not in repr(d) and authentik_api.token not in repr(d.http)


def test_members_are_added_and_removed_as_authentiks_source_answers(authentik_api):
    """No recording has add_user/remove_user (the fake's docstring says what it follows)."""
    authentik_api.add_group("wp-shop-users")
    olivia = authentik_api.add_user("olivia")["pk"]
    d = driver(authentik_api)
    group = d.group("wp-shop-users")

    for _ in range(2):  # already a member: 204 again, nothing changes
        d.group_member(group, olivia, add=True)
    assert authentik_api.members("wp-shop-users") == {"olivia"}
    for _ in range(2):  # no longer one: 204 again
        d.group_member(group, olivia, add=False)
    assert authentik_api.members("wp-shop-users") == set()

    # A user deleted since it was looked up: the run tries again and looks again.
    with pytest.raises(Missing, match="lost the object while trying to add user 99999 to wp-"):
        d.group_member(group, 99999, add=True)
    url = f"{authentik_api.url}{GROUPS}{group.pk}/add_user/"
    auth = {"Authorization": f"Bearer {authentik_api.token}"}
    for body in ({}, {"pk": None}, {"pk": 99999}):  # the body isn't validated: each is a miss
        answer = requests.post(url, json=body, headers=auth, timeout=5)
        assert (answer.status_code, answer.json()) == (404, {"detail": "Not found."})
    added = requests.post(url, json={"pk": str(olivia)}, headers=auth, timeout=5)
    assert (added.status_code, added.content) == (204, b"")
    assert authentik_api.members("wp-shop-users") == {"olivia"}
