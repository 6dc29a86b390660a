"""The sso step against a real Authentik 2025.8.1's recorded answers, phase by phase.

Served by tests/fakes/authentik_replay.py: the calls the step makes and what it makes of them."""

import json
from pathlib import Path

import pytest

from provisioning.errors import StepFailed
from provisioning.secrets import OIDC_CLIENT_ID, OIDC_CLIENT_SECRET, MemorySecrets
from provisioning.spec import PlanSpec, TenantSpec
from provisioning.steps.base import StepContext
from provisioning.steps.sso import SsoStep
from tests.fakes.authentik_replay import RecordedAuthentik

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings" / "authentik-2025.8.1" / "sso"
# The tenant's stored credentials in the recorded run (its secret as trim_authentik.py wrote it).
H2REC = {
    OIDC_CLIENT_ID: "SMF5TwawbHamTmkdkIBKIRZwzkouxwG9Pwu310EY",
    OIDC_CLIENT_SECRET: "recorded-client-secret-1",
}
REDIRECT = "https://wordpress-h2rec.local/wp-admin/admin-ajax.php?action=openid-connect-authorize"
ADOPT = "application wp-h2rec: is not marked as the tenant's (publisher tenant-portal/h2rec)"


def phase(number: str, by: str | None = "portal") -> list[dict]:
    (path,) = RECORDINGS.glob(f"{number}-*.jsonl")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [r for r in records if by is None or r["by"] == by]


def calls(records: list[dict]) -> list[tuple[str, str]]:
    def shown(r):
        query = "&".join(f"{k}={v}" for k, v in r["query"])
        return r["path"] + (f"?{query}" if query else "")

    return [(r["method"], shown(r)) for r in records]


@pytest.fixture
def replay(settings):
    servers = []

    def start(records: list[dict]) -> RecordedAuthentik:
        server = RecordedAuthentik(records).start()
        servers.append(server)
        settings.PORTAL_AUTHENTIK_URL = server.url
        settings.PORTAL_AUTHENTIK_TOKEN = server.token
        return server

    # As the recorded run was configured.
    settings.PORTAL_AUTHENTIK_ACCESS_GROUP = "h2-access-{slug}"
    # The signing key is the portal's default: the recorded run's, Authentik's own pair.
    settings.PORTAL_TENANT_TLS_UPSTREAM = True
    yield start
    for server in servers:
        server.stop()


def step(secrets: MemorySecrets, slug: str = "h2rec") -> SsoStep:
    spec = TenantSpec(
        tenant_id=10,
        slug=slug,
        display_name=f"H2 {slug}",
        admin_email="owner@example.com",
        host=f"wordpress-{slug}.local",
        wordpress_version="6.8",
        plan=PlanSpec("small", 250, 1000, 256, 512, 5, 1, 10, 20),
    )
    return SsoStep(StepContext(spec=spec, secrets=secrets))


def test_create_makes_the_recorded_calls_and_reads_every_answer(replay):
    records = phase("02")
    server = replay(records)
    secrets = MemorySecrets(dict(H2REC))

    assert step(secrets).check() == [
        "provider wp-h2rec is missing",
        "application wp-h2rec is missing",
    ]
    outcome = step(secrets).apply()

    assert outcome.message == (
        "created provider wp-h2rec; created application wp-h2rec; "
        "limited application wp-h2rec to the group h2-access-h2rec"
    )
    assert server.unrecorded == []
    # The same calls as the recorded portal; the application is looked at before any write now,
    # and the platform's values (flows, scope mappings, certificate) are asked for once, not by
    # the check and again by the apply.
    made = [(m, p) for m, p, _ in server.calls]
    assert set(made) == set(calls(records))
    platform = [
        c
        for c in made
        if c[1].startswith(("/api/v3/flows/", "/api/v3/propertymappings/", "/api/v3/crypto/"))
    ]
    assert len(platform) == 6 and len(set(platform)) == 6
    bodies = {(m, p): b for m, p, b in server.calls if m == "POST"}
    recorded = {
        (r["method"], r["path"]): r["request_body"] for r in records if r["method"] == "POST"
    }
    provider = bodies[("POST", "/api/v3/providers/oauth2/")]
    # The old client also sent authentication_flow/encryption_key as null; we send what we set.
    want = dict(recorded[("POST", "/api/v3/providers/oauth2/")])
    assert {k: v for k, v in want.items() if v is not None} == provider
    # Signed with the key pair (RS256): Authentik kept the certificate it was given, as the
    # portal looked it up by its default name; without one it would sign HS256.
    (keypair,) = [r for r in records if r["path"] == "/api/v3/crypto/certificatekeypairs/"][0][
        "response_body"
    ]["results"]
    created = next(
        r for r in records if (r["method"], r["path"]) == ("POST", "/api/v3/providers/oauth2/")
    )
    assert provider["signing_key"] == keypair["pk"] == created["response_body"]["signing_key"]
    assert keypair["name"] == "authentik Self-signed Certificate"
    app = bodies[("POST", "/api/v3/core/applications/")]
    assert app == {
        **recorded[("POST", "/api/v3/core/applications/")],
        "meta_publisher": "tenant-portal/h2rec",
    }
    binding = bodies[("POST", "/api/v3/policies/bindings/")]
    assert binding == recorded[("POST", "/api/v3/policies/bindings/")]


@pytest.mark.parametrize("number", ["04", "05"])
def test_a_recorded_no_op_rerun_reads_the_same_and_finds_only_the_missing_marker(replay, number):
    """The recording predates the marker: an unchanged tenant differs by it alone."""
    records = phase(number)
    server = replay(records)

    assert step(MemorySecrets(dict(H2REC))).check() == [ADOPT]

    assert [(m, p) for m, p, _ in server.calls] == calls(records)
    assert server.unrecorded == []


def test_a_recorded_rerun_marks_the_application_once_and_writes_nothing_else(replay):
    server = replay(phase("04"))

    outcome = step(MemorySecrets(dict(H2REC))).apply()

    assert outcome.message == "updated application wp-h2rec (meta publisher)"
    assert server.writes() == [("PATCH", "/api/v3/core/applications/wp-h2rec/")]
    assert server.calls[-2][2] == {"meta_publisher": "tenant-portal/h2rec"}


def test_a_hand_edited_redirect_uri_is_found_and_only_it_is_patched(replay):
    server = replay(phase("07"))
    secrets = MemorySecrets(dict(H2REC))

    assert step(secrets).check() == [
        f"provider wp-h2rec: redirect URIs are https://evil.example/cb instead of {REDIRECT}",
        ADOPT,
    ]
    outcome = step(secrets).apply()

    assert outcome.message == (
        "updated provider wp-h2rec (redirect uris); updated application wp-h2rec (meta publisher)"
    )
    patches = [(p, b) for m, p, b in server.calls if m == "PATCH"]
    # The old client's PATCH also sent signing_key: null and so dropped the key (recorded #78).
    assert patches == [
        (
            "/api/v3/providers/oauth2/16/",
            {"redirect_uris": [{"matching_mode": "strict", "url": REDIRECT}]},
        ),
        ("/api/v3/core/applications/wp-h2rec/", {"meta_publisher": "tenant-portal/h2rec"}),
    ]
    assert server.unrecorded == []


def group_answer(number: str, slug: str) -> dict:
    """The recorded group of the tenant, as an earlier phase looked it up: made by the recording
    script, unmarked, so the portal's destroy leaves it alone."""
    return next(
        r
        for r in phase(number)
        if r["path"] == "/api/v3/core/groups/" and r["query"] == [["name", f"h2-access-{slug}"]]
    )


def test_destroy_deletes_the_tenants_application_then_its_provider(replay):
    # The application as the portal last saw it before the destroy (phase 07), then phase 08.
    before = [r for r in phase("07") if r["path"] == "/api/v3/core/applications/wp-h2rec/"]
    server = replay([before[-1], group_answer("07", "h2rec"), *phase("08")])

    outcome = step(MemorySecrets(dict(H2REC))).destroy()

    assert outcome.message == "deleted application wp-h2rec and provider wp-h2rec"
    assert server.writes() == [
        ("DELETE", "/api/v3/core/applications/wp-h2rec/"),
        ("DELETE", "/api/v3/providers/oauth2/16/"),
    ]
    assert server.unrecorded == []


def test_destroy_after_both_were_deleted_by_hand_is_already_gone(replay):
    server = replay([group_answer("10", "h2recx"), *phase("12")])
    secrets = MemorySecrets(
        {OIDC_CLIENT_ID: "OdufqraUL6QXDObsieRkPHUWK8O2qThvGEDBpxlA", OIDC_CLIENT_SECRET: "x"}
    )

    assert step(secrets, slug="h2recx").destroy().message == "already gone"
    assert server.writes() == []
    assert server.unrecorded == []


def test_a_bad_token_stops_at_the_first_call_naming_the_setting(replay, settings):
    server = replay(phase("13"))
    settings.PORTAL_AUTHENTIK_TOKEN = "a-token-authentik-does-not-know"

    with pytest.raises(StepFailed) as failed:
        step(MemorySecrets(), slug="h2rect").apply()

    assert "(403)" in str(failed.value) and "PORTAL_AUTHENTIK_TOKEN" in str(failed.value)
    assert "Token invalid/expired" in str(failed.value)
    assert calls(phase("13")) == [(m, p) for m, p, _ in server.calls]  # no retry, nothing more
