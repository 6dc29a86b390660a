"""The fake Authentik held to a real Authentik 2025.8.1: its recorded requests replayed against
tests/fakes/authentik.py, the answers compared after normalizing what varies between runs."""

import json
from pathlib import Path

import pytest
import requests

from provisioning.drivers import authentik as driver
from tests.fakes.authentik import FakeAuthentik

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings" / "authentik-2025.8.1"
# Fields holding a generated key: learned from each pair of answers, translated in requests.
ID_FIELDS = {
    "pk", "num_pk", "target", "group", "provider", "authorization_flow", "invalidation_flow",
    "signing_key", "property_mappings", "policybindingmodel_ptr_id", "users",
}  # fmt: skip
# Query parameters that don't narrow a list: such a list holds whatever the server had.
NOT_FILTERS = ("page", "page_size", "superuser_full_list")
# What the portal's readers take from each kind of answer (the fields it depends on).
READERS = {
    "/providers/oauth2/": driver._provider,
    "/core/applications/": driver._application,
    "/policies/bindings/": driver._binding,
    "/core/groups/": driver._group,
}


def load(name: str) -> list[dict]:
    return [json.loads(line) for line in (RECORDINGS / name).read_text().splitlines()]


def sso_records() -> list[dict]:
    return [r for f in sorted((RECORDINGS / "sso").glob("*.jsonl")) for r in load(f"sso/{f.name}")]


def raw(label_start: str) -> dict:
    return next(r for r in load("raw-shapes.jsonl") if r["label"].startswith(label_start))


def shape(value):
    """The structure of an answer: keys, nesting and value types, not the values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return "null" if value is None else type(value).__name__


def differences(got, want, where: str = "") -> list[str]:
    """Where two shapes part: a field only one side has, or a different type."""
    if isinstance(got, dict) and isinstance(want, dict):
        where += "."
        return [
            *(f"{where}{k} only in the fake" for k in got.keys() - want.keys()),
            *(f"{where}{k} missing in the fake" for k in want.keys() - got.keys()),
            *(d for k in got.keys() & want.keys() for d in differences(got[k], want[k], where + k)),
        ]  # fmt: skip
    if isinstance(got, list) and isinstance(want, list) and got and want:
        return differences(got[0], want[0], f"{where}[]")
    return [] if got == want else [f"{where}: {got} in the fake, {want} recorded"]


class Replayer:
    """Sends recorded requests to the fake, with recorded keys translated to the fake's own."""

    def __init__(self, fake: FakeAuthentik):
        self.fake = fake
        self.ids: dict[str, object] = {}

    def send(self, record: dict) -> requests.Response:
        headers = {
            "bearer:admin": {"Authorization": f"Bearer {self.fake.token}"},
            "bearer:other": {"Authorization": "Bearer some-other-token"},
            "token:other": {"Authorization": "Token some-other-token"},
            "none": {},
        }[record["auth"]]
        path = "/".join(str(self.ids.get(part, part)) for part in record["path"].split("/"))
        query = [(k, str(self.ids.get(v, v))) for k, v in record["query"]]
        body = self.translate(record["request_body"])
        answer = requests.request(
            record["method"], self.fake.url + path, params=query, json=body, headers=headers,
            timeout=5,
        )  # fmt: skip
        if answer.content:
            self.learn(record["response_body"], answer.json())
        return answer

    def translate(self, value, key: str = ""):
        if isinstance(value, dict):
            return {k: self.translate(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.translate(v, key) for v in value]
        if key in ID_FIELDS and value is not None:
            return self.ids.get(str(value), value)
        return value

    def learn(self, recorded, fake, key: str = "") -> None:
        if isinstance(recorded, dict) and isinstance(fake, dict):
            for k in recorded.keys() & fake.keys():
                self.learn(recorded[k], fake[k], k)
        elif isinstance(recorded, list) and isinstance(fake, list) and len(recorded) == len(fake):
            for r, f in zip(recorded, fake, strict=True):
                self.learn(r, f, key)
        elif key in ID_FIELDS and recorded is not None and fake is not None:
            self.ids[str(recorded)] = fake


@pytest.fixture
def fake():
    fake = FakeAuthentik().start()
    yield fake
    fake.stop()


def portal_view(record: dict, rows: list, replayer: Replayer | None = None):
    """What the portal's readers make of answers (recorded keys translated to the fake's)."""
    reader = next((r for p, r in READERS.items() if record["path"].startswith("/api/v3" + p)), None)
    if reader is None or record["method"] == "DELETE":
        return None
    return [reader(replayer.translate(row) if replayer else row, "compare") for row in rows]


def test_every_recorded_sso_exchange_is_answered_alike_by_the_fake(fake):
    """All 14 phases in order (create, no-op re-runs, a hand edit repaired, destroy, a hand
    delete, a bad token): same status, same body shape, same values where the portal reads."""
    replayer = Replayer(fake)
    mismatches = []
    for record in sso_records():
        answer = replayer.send(record)
        got = answer.json() if answer.content else None
        want = record["response_body"]
        where = f"#{record['seq']} {record['method']} {record['path']}"
        if answer.status_code != record["status"]:
            mismatches.append(f"{where}: status {answer.status_code}, recorded {record['status']}")
            continue
        if record["status"] >= 400:
            if got != want:  # error bodies are deterministic: compared whole
                mismatches.append(f"{where}: {got} instead of {want}")
            continue
        filtered = any(k not in NOT_FILTERS for k, _ in record["query"])
        if isinstance(want, dict) and "results" in want:
            if filtered and got["pagination"] != want["pagination"]:
                mismatches.append(f"{where}: pagination {got['pagination']}")
            # An unfiltered list holds whatever else the server had: one item's shape counts.
            keep = None if filtered else 1
            got, want = got["results"][:keep], want["results"][:keep]
            compare_values = filtered
        else:
            got, want, compare_values = [got], [want], True
        if shape(got) != shape(want):
            mismatches += [f"{where}: {d}" for d in differences(shape(got), shape(want))]
        elif compare_values and portal_view(record, got) != portal_view(record, want, replayer):
            mismatches.append(f"{where}: the portal would read something else")
    assert mismatches == [], "\n".join(mismatches)


@pytest.mark.parametrize(
    "label",
    [
        "auth: bearer:other",
        "auth: none",
        "auth: token:other",
        "application 404",
        "provider 404",
        "DELETE of a missing application",
        "create application without slug",
        "create provider missing required fields",
        "pagination: a page past the end",
    ],
)
def test_refusals_are_answered_with_the_recorded_status_and_body(fake, label):
    record = raw(label)
    answer = Replayer(fake).send(record)
    assert (answer.status_code, answer.json()) == (record["status"], record["response_body"])


def seed_provider_and_application(fake: FakeAuthentik) -> Replayer:
    """One provider and one application, as the portal creates them (phase 02's requests)."""
    replayer = Replayer(fake)
    create = load("sso/02-create.jsonl")
    for record in load("sso/01-setup.jsonl") + create:
        replayer.send(record)
    return replayer


def test_a_taken_application_slug_is_refused_in_the_recorded_words(fake):
    replayer = seed_provider_and_application(fake)
    record = raw("create application with an existing slug")
    record = {**record, "request_body": {"name": "again", "slug": "wp-h2rec"}}
    answer = replayer.send(record)
    assert (answer.status_code, answer.json()) == (400, record["response_body"])


@pytest.mark.parametrize(
    "label, filtered_count",
    [
        ("list with an unknown filter", None),  # ignored: the whole list
        ("applications with an unknown filter", None),
        ("list filter that matches nothing", 0),
    ],
)
def test_unknown_filters_are_ignored_and_empty_matches_have_zero_indexes(
    fake, label, filtered_count
):
    seed_provider_and_application(fake)
    record = raw(label)
    answer = Replayer(fake).send(record).json()
    want = record["response_body"]
    assert answer["pagination"] == want["pagination"]  # the real server had one of each too
    assert shape(answer["results"]) == shape(want["results"])
    assert set(answer) == set(want)


def test_pages_are_numbered_and_next_is_zero_on_the_last(fake):
    for n in range(14 - len(fake.groups)):  # the real server had 14 groups
        fake.add_group(f"group-{n}")
    for label in ("pagination: page_size=1, page 1", "pagination: page 2"):
        record = raw(label)
        answer = Replayer(fake).send(record).json()
        assert answer["pagination"] == record["response_body"]["pagination"]


@pytest.mark.parametrize(
    "label",
    [
        "flow by slug",
        "flow detail",
        "keypair by name",
        "keypair detail",
        "scope mappings, all",
        "scope mapping by managed",
        "oauth2 providers, all",
        "oauth2 provider detail",
        "applications, all",
        "application detail",
        "groups, all",
        "group by name",
    ],
)
def test_objects_carry_exactly_the_recorded_fields(fake, label):
    """No field a real 2025.8.1 lacks (background_url, pbm_uuid, expiring...) and none missing."""
    replayer = seed_provider_and_application(fake)
    record = raw(label)
    record = {**record, "path": _seeded(record["path"]), "query": _seeded_query(record)}
    answer = replayer.send(record)
    assert answer.status_code == 200, answer.text
    got, want = answer.json(), record["response_body"]
    got, want = (got["results"][0], want["results"][0]) if "results" in want else (got, want)
    assert sorted(got) == sorted(want)
    for key in ("provider_obj", "users_obj"):
        if isinstance(want.get(key), dict):
            assert sorted(got[key]) == sorted(want[key])


def _seeded(path: str) -> str:
    """The raw calls looked at the portal's own sign-in client; the seed is a tenant's."""
    return path.replace("/core/applications/h2-portal/", "/core/applications/wp-h2rec/").replace(
        "/providers/oauth2/1/", "/providers/oauth2/16/"
    )


def _seeded_query(record: dict) -> list:
    return [[k, "h2-access-h2rec" if v == "portal-admins" else v] for k, v in record["query"]]


def test_bindings_carry_exactly_the_recorded_fields(fake):
    replayer = seed_provider_and_application(fake)
    record = raw("policy bindings, all")
    got = replayer.send(record).json()["results"]
    # The recorded list holds only policy bindings (group bindings are in the sso phases).
    want = record["response_body"]["results"][0]
    assert sorted(got[0]) == sorted(want)


def test_the_recorded_group_answers_read_as_the_portal_needs():
    """The access group as the portal reads it (name, members, the attributes that carry its
    marker), from the real server's answers to a create and a look-up by name."""
    created = load("sso/01-setup.jsonl")[0]["response_body"]
    assert driver._group(created, "compare") == driver.Group(
        pk=created["pk"], name="h2-access-h2rec", users=[], attributes={}
    )
    admins = raw("group by name")["response_body"]["results"][0]
    assert driver._group(admins, "compare").users == [5]
