"""The sso step against the fake Authentik API (tests/fakes/authentik.py) on loopback."""

import json
import socket

import pytest

from provisioning.errors import StepFailed, TransientError
from provisioning.secrets import (
    OIDC_CLIENT_ID,
    OIDC_CLIENT_SECRET,
    PLACEHOLDER,
    MemorySecrets,
    PlanSecrets,
)
from provisioning.spec import PlanSpec, TenantSpec
from provisioning.steps.base import Outcome, StepContext
from provisioning.steps.sso import SsoStep

PROVIDERS = "/api/v3/providers/oauth2/"
APPLICATIONS = "/api/v3/core/applications/"
REDIRECT = "https://wordpress-acme.local/wp-admin/admin-ajax.php?action=openid-connect-authorize"


@pytest.fixture(autouse=True)
def _tls(settings):
    """Tenant sites with certificates from cert-manager: their URLs are https. The provider and
    application alone: the access group is test_sso_access.py's."""
    settings.PORTAL_CERT_ISSUER = "letsencrypt-prod"
    settings.PORTAL_AUTHENTIK_ACCESS_GROUP = ""


def make_spec(slug: str = "acme") -> TenantSpec:
    plan = PlanSpec("small", 250, 1000, 256, 512, 5, 1, 10, 20)
    return TenantSpec(
        tenant_id=1,
        slug=slug,
        display_name="Acme Blog",
        admin_email="owner@example.com",
        host=f"wordpress-{slug}.local",
        wordpress_version="6.8",
        plan=plan,
    )


def make_step(secrets=None, slug: str = "acme") -> SsoStep:
    secrets = MemorySecrets() if secrets is None else secrets
    return SsoStep(StepContext(spec=make_spec(slug), secrets=secrets))


@pytest.fixture
def applied(authentik_api):
    """A tenant whose sso step has run once: (step, its secrets, the fake)."""
    secrets = MemorySecrets()
    step = make_step(secrets)
    assert step.apply().status == Outcome.DONE
    return step, secrets, authentik_api


def test_apply_creates_provider_and_application_with_the_stored_credentials(authentik_api):
    secrets = MemorySecrets()
    step = make_step(secrets)
    assert "provider wp-acme is missing" in step.check()

    outcome = step.apply()

    assert outcome.message == "created provider wp-acme; created application wp-acme"
    provider = authentik_api.provider_named("wp-acme")
    assert provider["client_type"] == "confidential"
    assert [u["url"] for u in provider["redirect_uris"]] == [REDIRECT]
    assert provider["redirect_uris"][0]["matching_mode"] == "strict"
    # The credentials WordPress will use are the ones Authentik holds, and live in the Secret.
    assert provider["client_id"] == secrets.get(OIDC_CLIENT_ID)
    assert provider["client_secret"] == secrets.get(OIDC_CLIENT_SECRET)
    assert len(secrets.get(OIDC_CLIENT_SECRET)) >= 40
    flows = {authentik_api.flows[pk]["slug"] for pk in (
        provider["authorization_flow"], provider["invalidation_flow"])}  # fmt: skip
    assert flows == {
        "default-provider-authorization-implicit-consent",
        "default-provider-invalidation-flow",
    }
    scopes = {
        authentik_api.scope_mappings[pk]["scope_name"] for pk in provider["property_mappings"]
    }
    assert scopes == {"openid", "email", "profile"}
    app = authentik_api.applications["wp-acme"]
    assert app["provider"] == provider["pk"]
    assert app["name"] == "Acme Blog"
    assert app["meta_launch_url"] == "https://wordpress-acme.local/"
    assert app["meta_publisher"] == "tenant-portal/acme"  # the tenant's marker


def test_second_run_finds_nothing_to_do_and_writes_nothing(applied):
    _, secrets, fake = applied
    writes = fake.writes()

    assert make_step(secrets).check() == []
    assert fake.writes() == writes


def test_a_drifted_redirect_uri_is_reported_and_repaired(applied):
    step, secrets, fake = applied
    provider = fake.provider_named("wp-acme")
    provider["redirect_uris"] = [{"matching_mode": "regex", "url": "https://evil.example/.*"}]

    differences = make_step(secrets).check()

    assert differences == [
        f"provider wp-acme: redirect URIs are https://evil.example/.* instead of {REDIRECT}"
    ]
    outcome = make_step(secrets).apply()
    assert outcome.message == "updated provider wp-acme (redirect uris)"
    assert fake.writes()[-1] == ("PATCH", f"{PROVIDERS}{provider['pk']}/")
    assert provider["redirect_uris"] == [{"matching_mode": "strict", "url": REDIRECT}]
    assert make_step(secrets).check() == []


def test_a_changed_client_secret_is_restored_without_showing_it(applied):
    _, secrets, fake = applied
    provider = fake.provider_named("wp-acme")
    provider["client_secret"] = "rotated-by-hand-in-the-authentik-admin"

    differences = make_step(secrets).check()

    assert differences == ["provider wp-acme: client secret differs from the stored one"]
    make_step(secrets).apply()
    assert provider["client_secret"] == secrets.get(OIDC_CLIENT_SECRET)


def test_a_wrong_launch_url_and_a_deleted_application_are_repaired(applied):
    _, secrets, fake = applied
    fake.applications["wp-acme"]["meta_launch_url"] = "http://old.example/"
    assert make_step(secrets).check() == [
        "application wp-acme: launch URL is http://old.example/ instead of "
        "https://wordpress-acme.local/"
    ]
    make_step(secrets).apply()
    assert fake.applications["wp-acme"]["meta_launch_url"] == "https://wordpress-acme.local/"

    del fake.applications["wp-acme"]
    assert make_step(secrets).check() == ["application wp-acme is missing"]
    assert make_step(secrets).apply().message == "created application wp-acme"
    assert fake.applications["wp-acme"]["provider"] == fake.provider_named("wp-acme")["pk"]


def test_destroy_removes_application_and_provider_and_a_second_destroy_is_fine(applied):
    _, secrets, fake = applied

    assert make_step(secrets).destroy().message == (
        "deleted application wp-acme and provider wp-acme"
    )
    assert fake.applications == {}
    assert fake.provider_named("wp-acme") is None
    deletes = [w for w in fake.writes() if w[0] == "DELETE"]
    assert deletes[0] == ("DELETE", f"{APPLICATIONS}wp-acme/")  # the application goes first

    again = make_step(secrets).destroy()
    assert again.status == Outcome.DONE
    assert again.message == "already gone"


def test_credentials_are_stored_before_the_create_so_a_failed_create_loses_nothing(
    authentik_api,
):
    secrets = MemorySecrets()
    authentik_api.fail_next(PROVIDERS, 503, method="POST")

    with pytest.raises(TransientError):
        make_step(secrets).apply()

    stored = secrets.get(OIDC_CLIENT_SECRET)
    assert stored and authentik_api.providers == {}
    make_step(secrets).apply()
    assert authentik_api.provider_named("wp-acme")["client_secret"] == stored


@pytest.mark.usefixtures("no_request_retries")  # the engine's retry, not the driver's
@pytest.mark.parametrize("status", [500, 502, 429])
def test_server_errors_and_rate_limits_are_transient(authentik_api, status):
    authentik_api.fail_next(PROVIDERS, status)

    with pytest.raises(TransientError, match=f"Authentik answered {status}"):
        make_step().apply()


def test_an_unreachable_authentik_is_transient(settings):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings.PORTAL_AUTHENTIK_URL = f"http://127.0.0.1:{port}"
    settings.PORTAL_AUTHENTIK_TOKEN = "some-token-value"

    with pytest.raises(TransientError, match="did not answer"):
        make_step().check()


def test_a_validation_error_fails_the_step_naming_the_field_and_hiding_secrets(authentik_api):
    secrets = MemorySecrets()
    authentik_api.fail_next(
        PROVIDERS,
        400,
        body={"redirect_uris": ["Enter a valid URL."], "code": "invalid"},
        method="POST",
    )

    with pytest.raises(StepFailed) as failed:
        make_step(secrets).apply()

    message = str(failed.value)
    assert message == (
        "Authentik refused to create provider wp-acme (400): redirect_uris: Enter a valid URL."
    )
    assert authentik_api.token not in message


def test_a_client_id_taken_by_another_provider_is_a_permanent_failure(authentik_api):
    first = MemorySecrets()
    make_step(first, slug="first").apply()
    # A tenant whose Secret somehow holds the first tenant's client id: Authentik refuses.
    copied = MemorySecrets({OIDC_CLIENT_ID: first.get(OIDC_CLIENT_ID)})

    with pytest.raises(StepFailed, match="client_id: .*already exists") as failed:
        make_step(copied, slug="second").apply()
    assert copied.get(OIDC_CLIENT_SECRET) not in str(failed.value)


def test_a_missing_permission_fails_the_step_naming_it(authentik_api):
    authentik_api.fail_next(
        PROVIDERS,
        403,
        body={"detail": "You do not have permission to perform this action."},
        method="POST",
    )
    with pytest.raises(StepFailed) as failed:
        make_step().apply()
    assert str(failed.value) == (
        "Authentik refused to create provider wp-acme (403 Forbidden): You do not have "
        "permission to perform this action. The token's user needs the permission "
        "authentik_providers_oauth2.add_oauth2provider."
    )


def test_a_bad_token_is_a_403_that_names_the_setting(authentik_api, settings):
    # A real 2025.8.1 answers a bad bearer token with 403, not 401 (raw-shapes.jsonl #27).
    settings.PORTAL_AUTHENTIK_TOKEN = "not-the-right-token"
    with pytest.raises(StepFailed) as failed:
        make_step().check()
    message = str(failed.value)
    assert message == (
        "Authentik rejected the API token (403) while trying to look up flow "
        "default-provider-authorization-implicit-consent: Token invalid/expired "
        "Check PORTAL_AUTHENTIK_TOKEN."
    )
    assert "not-the-right-token" not in message
    assert authentik_api.requests == []  # refused before any handler ran: nothing else tried


def test_a_401_names_the_token_setting_too(authentik_api):
    authentik_api.fail_next("/api/v3/flows/instances/", 401, body={"detail": "Invalid token."})
    with pytest.raises(StepFailed, match=r"rejected the API token \(401\).*PORTAL_AUTHENTIK_TOKEN"):
        make_step().check()


def test_an_answer_without_a_field_the_portal_needs_names_the_call_and_field(authentik_api):
    authentik_api.fail_next(PROVIDERS, 200, body={"results": [{"name": "wp-acme"}]}, method="GET")
    with pytest.raises(StepFailed) as failed:
        make_step().check()
    assert str(failed.value).startswith(
        "Authentik's answer to look up provider wp-acme has no usable 'pk'"
    )


def test_a_list_answer_without_results_names_the_call(authentik_api):
    authentik_api.fail_next(PROVIDERS, 200, body={"detail": "something else"}, method="GET")
    with pytest.raises(
        StepFailed, match="answer to look up provider wp-acme has no usable 'results'"
    ):
        make_step().check()


def test_unknown_missing_and_null_fields_are_no_error(applied):
    _, secrets, fake = applied
    provider = fake.provider_named("wp-acme")
    provider["a_field_from_a_newer_authentik"] = {"nested": [1, 2]}
    for field in ("sub_mode", "issuer_mode", "jwt_federation_sources"):
        del provider[field]
    del provider["client_type"]  # missing where the portal wants a value: drift, not a crash
    fake.applications["wp-acme"]["meta_launch_url"] = None

    assert make_step(secrets).check() == [
        "provider wp-acme: client type is unset, not confidential",
        "application wp-acme: launch URL is empty instead of https://wordpress-acme.local/",
    ]


def test_an_unknown_flow_fails_the_step_naming_the_setting(authentik_api, settings):
    settings.PORTAL_AUTHENTIK_AUTHORIZATION_FLOW = "no-such-flow"

    with pytest.raises(StepFailed) as failed:
        make_step().apply()
    # A token without the view permission sees an empty list: the message says so, too.
    assert str(failed.value) == (
        "Authentik has no flow with the slug 'no-such-flow' (see "
        "PORTAL_AUTHENTIK_AUTHORIZATION_FLOW), or none the token's user may see (that needs "
        "the permission authentik_flows.view_flow)."
    )
    assert authentik_api.writes() == []


def test_a_real_authentik_needs_a_real_secret_store(authentik_api):
    with pytest.raises(StepFailed, match="The Authentik client can't be created for real"):
        make_step(PlanSecrets()).apply()
    assert authentik_api.writes() == []


def test_the_access_group_limits_the_application(authentik_api, settings):
    settings.PORTAL_AUTHENTIK_ACCESS_GROUP = "wp-{slug}-users"
    group = authentik_api.add_group("wp-acme-users")
    secrets = MemorySecrets()

    outcome = make_step(secrets).apply()

    assert "limited application wp-acme to the group wp-acme-users" in outcome.message
    (binding,) = authentik_api.bindings.values()
    assert binding["group"] == group["pk"]
    assert binding["target"] == authentik_api.applications["wp-acme"]["pk"]
    assert make_step(secrets).check() == []

    authentik_api.bindings.clear()
    assert make_step(secrets).check() == [
        "application wp-acme is not limited to the group wp-acme-users"
    ]


def test_plan_mode_renders_the_calls_without_any_secret(settings):
    settings.PORTAL_AUTHENTIK_URL = ""
    # Even when the tenant's Secret holds real credentials, the plan file never shows them.
    secrets = MemorySecrets(
        {OIDC_CLIENT_ID: "real-client-id-1234", OIDC_CLIENT_SECRET: "s3cr3t-value"}
    )
    step = make_step(secrets)

    outcome = step.apply()

    assert outcome.status == Outcome.PLANNED
    text = step.plan_file.read_text()
    assert "real-client-id-1234" not in text and "s3cr3t-value" not in text
    plan = json.loads(text)
    create = next(c for c in plan["calls"] if c["method"] == "POST" and c["path"] == PROVIDERS)
    assert create["body"]["client_secret"] == PLACEHOLDER
    assert create["body"]["client_id"] == PLACEHOLDER
    assert create["body"]["redirect_uris"] == [{"matching_mode": "strict", "url": REDIRECT}]
    app = next(c for c in plan["calls"] if c["method"] == "POST" and c["path"] == APPLICATIONS)
    assert app["body"]["meta_launch_url"] == "https://wordpress-acme.local/"
    assert app["body"]["meta_publisher"] == "tenant-portal/acme"
    assert make_step(secrets).check() == []


# --- ownership: only what carries the tenant's marker is adopted or destroyed ---------------------


def someone_elses_provider(fake, name: str = "wp-acme") -> dict:
    flow = next(iter(fake.flows))
    status, provider = fake.handle(
        "POST",
        PROVIDERS,
        {},
        {
            "name": name,
            "authorization_flow": flow,
            "invalidation_flow": flow,
            "redirect_uris": [{"matching_mode": "strict", "url": "https://other.example/cb"}],
        },
    )
    assert status == 201
    return provider


def someone_elses_application(fake, publisher: str = "", provider: int | None = None) -> dict:
    body = {"name": "Not ours", "slug": "wp-acme", "meta_publisher": publisher}
    status, app = fake.handle("POST", APPLICATIONS, {}, {**body, "provider": provider})
    assert status == 201
    return app


def test_a_provider_of_that_name_with_another_client_id_fails_the_step_and_stays(authentik_api):
    foreign = someone_elses_provider(authentik_api)
    before = authentik_api.writes()

    with pytest.raises(StepFailed) as failed:
        make_step().apply()

    assert str(failed.value) == (
        "Authentik already has a provider wp-acme that is not tenant acme's (its client id is "
        "not the one in the tenant's Secret). The portal adopts only what carries the tenant's "
        "marker, so nothing was changed: delete or rename it in Authentik, or pick another slug."
    )
    assert authentik_api.writes() == before
    assert authentik_api.provider_named("wp-acme") == authentik_api.providers[foreign["pk"]]
    assert authentik_api.providers[foreign["pk"]]["redirect_uris"][0]["url"] == (
        "https://other.example/cb"
    )
    with pytest.raises(StepFailed, match="not tenant acme's"):
        make_step().check()


@pytest.mark.parametrize("publisher", ["", "tenant-portal/other", "someone"])
def test_an_application_of_that_name_not_marked_as_the_tenants_fails_the_step(
    authentik_api, publisher
):
    someone_elses_application(authentik_api, publisher)

    with pytest.raises(StepFailed) as failed:
        make_step().apply()

    assert str(failed.value).startswith(
        f"Authentik already has an application wp-acme that is not tenant acme's (its "
        f"publisher is {publisher or 'empty'!r}, not 'tenant-portal/acme', and it is not bound "
        "to the tenant's provider)."
    )
    assert authentik_api.writes() == [("POST", APPLICATIONS)]  # only the test's own: no provider
    assert authentik_api.applications["wp-acme"]["name"] == "Not ours"


def test_destroy_leaves_someone_elses_provider_and_application_alone(authentik_api):
    provider = someone_elses_provider(authentik_api)
    someone_elses_application(authentik_api, "someone", provider=provider["pk"])
    before = authentik_api.writes()

    outcome = make_step().destroy()

    assert outcome.status == Outcome.DONE
    assert outcome.message == (
        "left application wp-acme and provider wp-acme alone: not tenant acme's"
    )
    assert authentik_api.writes() == before
    assert "wp-acme" in authentik_api.applications and provider["pk"] in authentik_api.providers


def test_an_unmarked_application_bound_to_the_tenants_provider_is_adopted(applied):
    # What a portal from before the marker left behind (the recorded 2025.8.1 run, too).
    _, secrets, fake = applied
    fake.applications["wp-acme"]["meta_publisher"] = ""

    assert make_step(secrets).check() == [
        "application wp-acme: is not marked as the tenant's (publisher tenant-portal/acme)"
    ]
    assert make_step(secrets).apply().message == "updated application wp-acme (meta publisher)"
    assert fake.applications["wp-acme"]["meta_publisher"] == "tenant-portal/acme"
    assert make_step(secrets).check() == []
    assert make_step(secrets).destroy().message == (
        "deleted application wp-acme and provider wp-acme"
    )


def test_destroy_with_the_secret_lost_deletes_nothing(applied):
    _, _, fake = applied
    fake.applications["wp-acme"]["meta_publisher"] = ""

    outcome = make_step(MemorySecrets()).destroy()

    assert outcome.message == (
        "left application wp-acme and provider wp-acme alone: not tenant acme's"
    )
    assert "wp-acme" in fake.applications and fake.provider_named("wp-acme")


# --- other Authentik versions: only the fields the portal reads matter -------------------------

# Every field the sso step reads from an answer; the rest may be missing, null or new.
READ = {
    "results", "pagination", "next", "pk", "name", "slug", "scope_name", "managed",
    "client_type", "client_id", "client_secret", "authorization_flow", "invalidation_flow",
    "property_mappings", "signing_key", "redirect_uris", "matching_mode", "url", "provider",
    "meta_launch_url", "meta_publisher", "group", "enabled", "target",
}  # fmt: skip
# Fields newer Authentiks send that 2025.8.1 doesn't (from their published API schemas).
NEWER = {
    "pbm_uuid": "0b6c2a36-1f49-4c6b-9d0e-3c1e0b9f2a11",
    "background_url": "/static/dist/assets/images/flow_background.jpg",
    "logout_uri": "",
    "logout_method": "backchannel",
    "grant_types": ["authorization_code"],
    "redirect_uri_type": "authorization",
    "expiring": True,
}


def _walk(value, change):
    if isinstance(value, dict):
        return change({k: _walk(v, change) for k, v in value.items()})
    if isinstance(value, list):
        return [_walk(v, change) for v in value]
    return value


RESHAPES = {
    "unread fields missing": lambda d: {k: v for k, v in d.items() if k in READ},
    "unread fields null": lambda d: {k: (v if k in READ else None) for k, v in d.items()},
    "newer fields added": lambda d: {**NEWER, **d},
}


@pytest.mark.parametrize("reshape", RESHAPES)
def test_the_step_works_whatever_else_the_answers_hold(authentik_api, settings, reshape):
    settings.PORTAL_AUTHENTIK_ACCESS_GROUP = "wp-{slug}-users"
    authentik_api.add_group("wp-acme-users")
    authentik_api.reshape = lambda payload: _walk(payload, RESHAPES[reshape])
    secrets = MemorySecrets()

    assert make_step(secrets).apply().message == (
        "created provider wp-acme; created application wp-acme; "
        "limited application wp-acme to the group wp-acme-users"
    )
    writes = authentik_api.writes()
    assert make_step(secrets).check() == []
    assert make_step(secrets).apply().message == "nothing to change"
    assert authentik_api.writes() == writes
    assert make_step(secrets).destroy().message == (
        "deleted application wp-acme and provider wp-acme"
    )


def test_the_platforms_values_are_asked_for_once_for_many_tenants_and_again_after_a_failure(
    authentik_api,
):
    def platform_gets() -> int:
        prefixes = ("/api/v3/flows/", "/api/v3/propertymappings/")
        return sum(1 for m, p in authentik_api.requests if m == "GET" and p.startswith(prefixes))

    for slug in ("one", "two", "three"):
        step = make_step(slug=slug)
        step.check()
        assert step.apply().status == Outcome.DONE
    assert platform_gets() == 5  # two flows, three scope mappings: once, for all three

    # A failed apply forgets them: a flow recreated meanwhile is found again by the retry.
    authentik_api.fail_next(PROVIDERS, 400, body={"authorization_flow": ["Invalid pk."]})
    with pytest.raises(StepFailed):
        make_step(slug="four").apply()
    assert make_step(slug="four").apply().status == Outcome.DONE
    assert platform_gets() == 10
