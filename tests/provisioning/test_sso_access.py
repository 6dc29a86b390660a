"""Who may sign in to a tenant's WordPress: its Authentik group, bound to its application."""

import dataclasses
import json

import pytest

from provisioning.errors import StepFailed
from provisioning.secrets import MemorySecrets
from provisioning.steps.base import StepContext
from provisioning.steps.sso import GROUP_MARKER, SsoStep
from tests.provisioning.test_sso import make_spec


def make_step(secrets, owner="olivia", members=()) -> SsoStep:
    spec = dataclasses.replace(make_spec(), owner_username=owner, members=tuple(members))
    return SsoStep(StepContext(spec=spec, secrets=secrets))


@pytest.fixture
def people(authentik_api):
    for name in ("olivia", "mark", "stranger"):
        authentik_api.add_user(name)
    return authentik_api


def test_by_default_only_the_owner_and_members_get_in(people):
    secrets = MemorySecrets()

    outcome = make_step(secrets, members=["mark"]).apply()

    assert outcome.message == (
        "created provider wp-acme; created application wp-acme; created group wp-acme-users; "
        "added 2 to group wp-acme-users; limited application wp-acme to the group wp-acme-users"
    )
    (group,) = people.groups.values()
    assert group["attributes"] == {GROUP_MARKER: "acme"}
    assert people.members("wp-acme-users") == {"olivia", "mark"}
    assert people.may_open("olivia", "wp-acme") and people.may_open("mark", "wp-acme")
    # Someone with an Authentik account but no place in the tenant is refused.
    assert not people.may_open("stranger", "wp-acme")
    assert make_step(secrets, members=["mark"]).check() == []


def test_membership_follows_the_portal_both_ways(people):
    secrets = MemorySecrets()
    make_step(secrets, members=["mark"]).apply()
    group = next(iter(people.groups.values()))
    group["users"].append(next(pk for pk, u in people.users.items() if u["username"] == "stranger"))

    step = make_step(secrets)  # mark was removed on the tenant page
    assert step.check() == ["group wp-acme-users holds 2 people not the tenant's"]
    assert step.apply().message == "removed 2 from group wp-acme-users"
    assert people.members("wp-acme-users") == {"olivia"}


def test_a_member_without_an_authentik_account_yet_is_added_once_there(people):
    secrets = MemorySecrets()
    assert "no Authentik user yet: newbie" in make_step(secrets, members=["newbie"]).apply().message
    assert make_step(secrets, members=["newbie"]).check() == []

    people.add_user("newbie")
    assert make_step(secrets, members=["newbie"]).check() == [
        "group wp-acme-users lacks 1 of the tenant's people"
    ]
    assert (
        make_step(secrets, members=["newbie"]).apply().message == "added 1 to group wp-acme-users"
    )
    assert people.members("wp-acme-users") == {"olivia", "newbie"}


def test_a_shared_platform_group_is_bound_but_never_edited(people, settings):
    settings.PORTAL_AUTHENTIK_ACCESS_GROUP = "wordpress-editors"
    secrets = MemorySecrets()
    with pytest.raises(StepFailed, match="is the platform's to create"):
        make_step(secrets).apply()

    shared = people.add_group("wordpress-editors")
    shared["users"].append(next(pk for pk, u in people.users.items() if u["username"] == "mark"))
    assert (
        make_step(secrets)
        .apply()
        .message.endswith("limited application wp-acme to the group wordpress-editors")
    )
    assert people.members("wordpress-editors") == {"mark"}
    assert make_step(secrets).destroy().message == (
        "deleted application wp-acme and provider wp-acme"
    )
    assert "wordpress-editors" in {g["name"] for g in people.groups.values()}


def test_destroy_deletes_the_tenants_group_with_its_application(people):
    secrets = MemorySecrets()
    make_step(secrets).apply()

    assert make_step(secrets).destroy().message == (
        "deleted application wp-acme and provider wp-acme and group wp-acme-users"
    )
    assert people.groups == {} and people.bindings == {}
    assert make_step(secrets).destroy().message == "already gone"


def test_a_same_named_group_of_someone_else_keeps_its_members(people):
    people.add_group("wp-acme-users", attributes={GROUP_MARKER: "other"})
    secrets = MemorySecrets()
    make_step(secrets).apply()
    assert people.members("wp-acme-users") == set()
    make_step(secrets).destroy()
    assert "wp-acme-users" in {g["name"] for g in people.groups.values()}


def test_id_tokens_are_signed_with_the_key_pair_by_default(people):
    make_step(MemorySecrets()).apply()
    provider = people.provider_named("wp-acme")
    (keypair,) = people.keypairs.values()
    assert keypair["name"] == "authentik Self-signed Certificate"
    # With a signing key Authentik signs RS256; without one HS256 with the client secret.
    assert provider["signing_key"] == keypair["pk"]


def test_the_plan_shows_the_group_and_its_people(settings):
    settings.PORTAL_AUTHENTIK_URL = ""
    step = make_step(MemorySecrets(), members=["mark"])
    step.apply()
    calls = json.loads(step.render())["calls"]
    posts = [(c["path"], c.get("body")) for c in calls if c["method"] == "POST"]
    assert (
        "/api/v3/core/groups/",
        {"name": "wp-acme-users", "attributes": {GROUP_MARKER: "acme"}},
    ) in posts
    added = [b for p, b in posts if p.endswith("/add_user/")]
    assert added == [{"pk": "<pk of user olivia>"}, {"pk": "<pk of user mark>"}]


def test_an_empty_access_group_is_warned_about(settings):
    from provisioning.checks import authentik_access_group

    settings.PORTAL_AUTHENTIK_URL = "https://auth.example.com"
    settings.PORTAL_AUTHENTIK_ACCESS_GROUP = ""
    (warning,) = authentik_access_group()
    assert warning.id == "provisioning.W021" and "anyone who can sign in" in warning.msg
    settings.PORTAL_AUTHENTIK_ACCESS_GROUP = "wp-{slug}-users"
    assert authentik_access_group() == []
