"""The fake Kubernetes API held to a real one: recorded kube-apiserver 1.32 exchanges, replayed.

Every recorded request is sent to a fresh tests/fakes/kube.py in the recorded order and its answer
compared with the real one after normalizing what varies between runs (tests/recordings/
kubernetes-1.32/README.md): ids, versions, times, generated names and addresses, what
controllers write (status, revision annotations; the fake runs no controllers).
"""

import copy
import json
from pathlib import Path

import pytest
import urllib3

from tests.fakes.kube import FakeKube

RECORDINGS = Path(__file__).resolve().parents[1] / "recordings" / "kubernetes-1.32"
# Written by controllers the fake doesn't run (or by the run, not by the request).
CONTROLLER_MANAGERS = {"kube-controller-manager"}
APPLY = "application/apply-patch+yaml"
VOLATILE_META = ("uid", "resourceVersion", "creationTimestamp", "generation")
VOLATILE_LABELS = ("controller-uid", "batch.kubernetes.io/controller-uid")
CONTROLLER_ANNOTATIONS = ("deployment.kubernetes.io/revision",)


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (RECORDINGS / name).open()]


def _drop_volatile_labels(value):
    if isinstance(value, dict):
        return {k: _drop_volatile_labels(v) for k, v in value.items() if k not in VOLATILE_LABELS}
    if isinstance(value, list):
        return [_drop_volatile_labels(v) for v in value]
    return value


def _managers(meta: dict) -> list[tuple]:
    return sorted(
        {
            (m["manager"], m.get("operation"), m.get("subresource", ""))
            for m in meta.get("managedFields") or []
            if m["manager"] not in CONTROLLER_MANAGERS and m.get("subresource") != "status"
        }
    )


def normalized_object(obj: dict, kind: str = "") -> dict:
    obj = _drop_volatile_labels(copy.deepcopy(obj))
    meta = obj.get("metadata") or {}
    for key in VOLATILE_META:
        meta.pop(key, None)
    if "deletionTimestamp" in meta:
        meta["deletionTimestamp"] = "<set>"
    meta["managedFields"] = _managers(meta)
    annotations = meta.get("annotations") or {}
    for key in CONTROLLER_ANNOTATIONS:
        annotations.pop(key, None)
    if "annotations" in meta and not annotations:
        del meta["annotations"]
    kind = obj.get("kind") or kind
    if kind != "Namespace":
        obj.pop("status", None)  # controllers' (the Namespace's phase is the API server's)
    else:
        obj.get("status", {}).pop("conditions", None)  # the namespace controller's
    if kind == "Service":
        obj["spec"].pop("clusterIP", None)
        obj["spec"].pop("clusterIPs", None)
    return obj


def normalized(body):
    """What of an answer is compared: the Status as it is, objects without what varies."""
    if not isinstance(body, dict) or body.get("kind") == "Status":
        return body
    if "items" in body:
        meta = body.get("metadata") or {}
        return {
            "kind": body.get("kind"),
            "apiVersion": body.get("apiVersion"),
            "continue": bool(meta.get("continue")),
            "items": [normalized_object(i, body["kind"][:-4]) for i in body["items"]],
        }
    return normalized_object(body)


def first_line(body):
    """A Status without its object's uid, and its messages cut to their first line: a 422's
    message ends with a Go diff of the object, the first line says what is wrong."""
    if isinstance(body, dict) and body.get("kind") == "Status":
        body = copy.deepcopy(body)
        body["message"] = (body.get("message") or "").split("\n")[0]
        details = body.get("details") or {}
        details.pop("uid", None)
        for cause in details.get("causes") or []:
            cause["message"] = cause.get("message", "").split("\n")[0]
    return body


class Replay:
    def __init__(self, fake: FakeKube):
        self.fake = fake
        self.http = urllib3.PoolManager(retries=False)

    def send(self, method: str, path: str, body, content_type: str | None, agent: str):
        headers = {"User-Agent": agent, "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = content_type or "application/json"
        response = self.http.request(method, self.fake.url + path, body=data, headers=headers)
        answer = json.loads(response.data) if response.data else None
        return response.status, answer, response.headers.getlist("Warning")


def _paths(fake, real, path: str = "") -> list[str]:
    """Where two answers differ, one line each (the fake's value, then the real one)."""
    if isinstance(fake, dict) and isinstance(real, dict):
        return [
            line
            for key in {**fake, **real}
            for line in _paths(fake.get(key, "<unset>"), real.get(key, "<unset>"), f"{path}.{key}")
        ]
    if isinstance(fake, list) and isinstance(real, list) and len(fake) == len(real):
        return [
            line
            for i, pair in enumerate(zip(fake, real, strict=True))
            for line in _paths(*pair, f"{path}[{i}]")
        ]
    if fake != real:
        return [f"    {path or '.'}: fake {json.dumps(fake)[:200]}, real {json.dumps(real)[:200]}"]
    return []


def compare(seq, what: str, real_status, real_body, status, body) -> list[str]:
    if status != real_status:
        return [f"{seq} {what}: status {status}, real {real_status}: {json.dumps(body)[:300]}"]
    found = _paths(first_line(normalized(body)), first_line(normalized(real_body)))
    return [f"{seq} {what}: answer differs", *found] if found else []


@pytest.fixture
def fake(tmp_path):
    fake = FakeKube(terminating_gets=2).start()
    yield fake
    fake.stop()


def test_the_edge_cases_are_answered_as_the_real_server_answered(fake):
    replay = Replay(fake)
    mismatches = []
    for row in rows("edge-cases.jsonl"):
        status, body, warnings = replay.send(
            row["method"],
            row["path"],
            row["request_body"],
            row["request_content_type"],
            "rec-edge-cases/1.0",
        )
        what = f"{row['case']} ({row['note']})"
        mismatches += compare(row["seq"], what, row["status"], row["response_body"], status, body)
        real_warnings = [row["response_warnings"]] if row["response_warnings"] else []
        if warnings != real_warnings:
            mismatches.append(f"{row['seq']} {what}: warnings {warnings}, real {real_warnings}")
    assert mismatches == [], "\n".join(mismatches)


def _content_type(row) -> str | None:
    if row["method"] != "PATCH":
        return None
    sent = row["request_object"] or {}
    # The audit log doesn't keep the content type: an apply sends the whole object.
    if "apiVersion" in sent and "kind" in sent:
        return "application/apply-patch+yaml"
    return "application/merge-patch+json"


def test_a_tenants_life_is_answered_as_the_real_server_answered(fake):
    replay = Replay(fake)
    fake.terminating_gets = 1  # the recorded deprovision saw one Terminating GET, then 404
    mismatches = []
    for row in rows("lifecycle-h1rec.jsonl"):
        if not row["requestURI"].startswith(("/api/", "/apis/")):
            continue  # kubectl's discovery (/version): not an API the portal uses
        status, body, _ = replay.send(
            row["method"],
            row["requestURI"],
            row["request_object"] if row["method"] in ("PATCH", "POST", "PUT") else None,
            _content_type(row),
            row["user_agent"],
        )
        what = f"{row['phase']} {row['method']} {row['requestURI']}"
        mismatches += compare(row["seq"], what, row["status"], row["response_object"], status, body)
    assert mismatches == [], "\n".join(mismatches)


def test_a_dry_run_answers_what_the_apply_stores_and_stores_nothing(fake):
    """Drift is decided from dry-run answers (no recording has one): they must be the apply's."""
    replay = Replay(fake)
    edge = {row["seq"]: row for row in rows("edge-cases.jsonl")}
    setup = edge[1]
    replay.send("PATCH", setup["path"], setup["request_body"], APPLY, "rec")
    for seq in (18, 22, 25, 26):  # empty env value, quantities in a quota, a pod, limits
        row = edge[seq]
        writes = len(fake.writes)
        dry = replay.send("PATCH", row["path"] + "&dryRun=All", row["request_body"], APPLY, "r")
        assert fake.writes[writes:] == [], seq  # nothing stored...
        assert "resourceVersion" not in dry[1]["metadata"]  # ...so nothing has a version yet
        applied = replay.send("PATCH", row["path"], row["request_body"], APPLY, "rec")
        assert (dry[0], normalized(dry[1])) == (applied[0], normalized(applied[1])), seq
        assert normalized(applied[1]) == normalized(row["response_body"]), seq
        again = replay.send("PATCH", row["path"] + "&dryRun=All", row["request_body"], APPLY, "r")
        assert again[0] == 200 and normalized(again[1]) == normalized(applied[1]), seq
        assert again[1]["metadata"]["resourceVersion"] == applied[1]["metadata"]["resourceVersion"]


def _status_managers(meta: dict) -> set[tuple]:
    return {
        (m["manager"], m.get("operation"), m.get("subresource", ""))
        for m in meta.get("managedFields") or []
        if m["manager"] != "kube-apiserver"  # quota admission's own status writes: no pods here
    }


def test_a_quotas_status_is_written_through_its_subresource_and_kept_by_writes_of_the_quota(
    fake,
):
    """The quota controller writes status through /status (the recordings' managedFields say
    so); a write of the quota itself creates it with an empty status and never changes it: the
    recorded kubectl patch of spec.hard.pods answers the controller's status as it was."""
    replay = Replay(fake)
    lifecycle = {row["seq"]: row for row in rows("lifecycle-h1rec.jsonl")}
    for row in (r for seq, r in lifecycle.items() if seq < 14):  # the namespace first
        sent = row["request_object"] if row["method"] in ("PATCH", "POST", "PUT") else None
        agent = row["user_agent"]
        replay.send(row["method"], row["requestURI"], sent, _content_type(row), agent)
    created = lifecycle[14]
    status, body, _ = replay.send(
        "PATCH", created["requestURI"], created["request_object"], APPLY, created["user_agent"]
    )
    assert (status, body["status"]) == (created["status"], created["response_object"]["status"])
    path = "/api/v1/namespaces/wp-h1rec/resourcequotas/tenant-quota/status"
    before = lifecycle[110]["response_object"]
    read = replay.send("GET", path, None, None, "kube-controller-manager/v1.32")[1]
    # As the controller does: the object read, its status replaced; a spec sent here isn't taken.
    controller = {**read, "spec": {"hard": {"pods": "1"}}, "status": before["status"]}
    stale = {**controller, "metadata": {**read["metadata"], "resourceVersion": "1"}}
    assert replay.send("PUT", path, stale, None, "kube-controller-manager/v1.32")[0] == 409
    status, body, _ = replay.send("PUT", path, controller, None, "kube-controller-manager/v1.32")
    assert status == 200 and body["status"] == before["status"]
    assert body["spec"] == created["response_object"]["spec"]

    edit = lifecycle[111]
    status, body, _ = replay.send(
        "PATCH", edit["requestURI"], edit["request_object"], _content_type(edit), edit["user_agent"]
    )
    real = edit["response_object"]
    assert status == edit["status"]
    assert (body["spec"], body["status"]) == (real["spec"], real["status"])
    assert _status_managers(body["metadata"]) == _status_managers(real["metadata"])

    assert replay.send("GET", path, None, None, "kubectl")[1]["status"] == real["status"]
    assert replay.send("PATCH", path, {"status": {}}, APPLY, "x")[0] == 415
    assert (
        replay.send("GET", path.replace("resourcequotas", "limitranges"), None, None, "x")[0] == 404
    )
