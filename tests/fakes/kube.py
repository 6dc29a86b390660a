"""A stateful stand-in for the Kubernetes API over real HTTP on loopback, for the official client.

It keeps objects in memory and answers the calls the portal makes the way an API server does:
GET / LIST (label selectors) / POST / PUT (resourceVersion conflicts) / PATCH (server-side apply
with field managers, conflicts, force and pruning; JSON merge patch; strategic merge patch for
maps) / DELETE (namespaces can stay Terminating for a number of GETs). It assigns uid,
resourceVersion, generation and creationTimestamp, turns a Secret's stringData into base64 data,
and rejects what a real server rejects for those calls: unknown or ill-typed fields (strict schema
of the pinned Kubernetes version), bad names and labels, a missing or terminating namespace, an
apply without fieldManager, mismatched name/kind/namespace, changes to immutable fields (a Job's
template, a Deployment's selector, a PVC's spec other than a larger size) and invalid base64.

Tests steer it in-process: `fail()` makes the next N matching requests answer a status before
anything is stored, `delay()` holds them (for client timeouts), `mark_ready()` plays the
controllers (Deployments rolled out, Jobs complete), `fail_job()` and `edit()` (a hand edit by
another field manager), `quota_used()` the quota controller (a ResourceQuota's status, which
clients may also write through its status subresource), `pod_usage()` metrics-server (a pod's
PodMetrics in metrics.k8s.io/v1beta1, read-only; `metrics_api = False` is a cluster without it,
404). `writes` records every write and whether it changed anything.
"""

from __future__ import annotations

import base64
import binascii
import copy
import dataclasses
import json
import os
import random
import re
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jsonschema
import yaml

from tests.fakes.kube_normalize import (
    drop,
    normalize,
    schema_check,
    smd_path,
    strict_path,
    undeclared_fields,
)
from tests.fakes.loopback import LoopbackServer

# libyaml's safe loader where installed: the pure-Python one was a sixth of the fake's time
# for the apply bodies of hundreds of tenants (the memory bench).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

METRICS = "apis/metrics.k8s.io/v1beta1"
# (group/version as in the URL, plural) -> (kind, namespaced)
RESOURCES = {
    ("api/v1", "namespaces"): ("Namespace", False),
    ("api/v1", "resourcequotas"): ("ResourceQuota", True),
    ("api/v1", "limitranges"): ("LimitRange", True),
    ("api/v1", "serviceaccounts"): ("ServiceAccount", True),
    ("api/v1", "secrets"): ("Secret", True),
    ("api/v1", "services"): ("Service", True),
    ("api/v1", "persistentvolumeclaims"): ("PersistentVolumeClaim", True),
    ("api/v1", "configmaps"): ("ConfigMap", True),
    ("apis/apps/v1", "deployments"): ("Deployment", True),
    ("apis/batch/v1", "jobs"): ("Job", True),
    ("apis/networking.k8s.io/v1", "ingresses"): ("Ingress", True),
    ("apis/networking.k8s.io/v1", "networkpolicies"): ("NetworkPolicy", True),
    ("apis/rbac.authorization.k8s.io/v1", "rolebindings"): ("RoleBinding", True),
    # The Metrics API as metrics-server serves it through the aggregation layer: read-only.
    (METRICS, "pods"): ("PodMetrics", True),
}
# Set, every fake appends each request's RBAC attributes to this file (one JSON line each), so
# that a run of the driver tests can be compared with the portal's RBAC (tests/deploy/).
ACCESS_LOG = os.environ.get("PORTAL_TEST_KUBE_ACCESS_LOG", "")
_PATH = re.compile(
    r"^/(api/v1|apis/[^/]+/[^/]+)(?:/namespaces/([^/]+))?/([^/]+)(?:/([^/]+))?(?:/(scale|status))?$"
)
# The subresource each kind answers here: kubectl scale's, and the status the quota controller
# writes (an API server has status for more kinds; the fake's controllers set those in-process).
_SUBRESOURCES = {"Deployment": "scale", "ResourceQuota": "status"}
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_NAME_PART = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")
_IDENTITY = ("apiVersion", "kind", "metadata.name", "metadata.namespace")
_BY_KIND = {
    kind: (gv, plural, namespaced) for (gv, plural), (kind, namespaced) in RESOURCES.items()
}
_SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_RULE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


class ApiError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details


@dataclass
class Fault:
    method: str
    pattern: str
    remaining: int
    status: int = 0
    message: str = ""
    seconds: float = 0.0

    def matches(self, method: str, path: str) -> bool:
        return self.remaining > 0 and method == self.method and re.search(self.pattern, path)


@dataclass
class Chaos:
    """A share of all requests refused (500 or 429) or held, drawn from a seeded generator."""

    rate: float
    seed: int
    delay: float
    injected: Counter = dataclasses.field(default_factory=Counter)

    def __post_init__(self):
        self.rng = random.Random(self.seed)

    def draw(self) -> Fault | None:
        if self.rng.random() >= self.rate:
            return None
        kind = self.rng.choice(("500", "429", "delay"))
        self.injected[kind] += 1
        if kind == "delay":
            return Fault("", "", 0, seconds=self.rng.uniform(0.1, self.delay))
        return Fault("", "", 0, status=int(kind), message=f"injected {kind} (chaos)")


@dataclass(frozen=True)
class Access:
    """A request as RBAC sees it: API group, resource, verb, namespace ("" cluster-wide), name."""

    group: str
    resource: str
    verb: str
    namespace: str
    name: str


@dataclass
class Write:
    method: str
    path: str
    changed: bool


def _resource(gv: str, plural: str) -> str:
    """How messages name a resource: `configmaps`, `deployments.apps`."""
    group = gv.split("/")[1] if gv.startswith("apis/") else ""
    return f"{plural}.{group}" if group else plural


def _details(gv: str, name: str, kind: str) -> dict:
    group = gv.split("/")[1] if gv.startswith("apis/") else ""
    return {"name": name, **({"group": group} if group else {}), "kind": kind}


def _agent(headers) -> str:
    """The field manager of a write without one: the User-Agent's program name, as the API
    server takes it (`kubectl/v1.32.0 (linux/amd64)` -> `kubectl`)."""
    agent = (headers.get("User-Agent") or "unknown").split("/")[0].split(" ")[0]
    return agent or "unknown"


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _leaves(value, prefix: tuple = ()) -> dict[tuple, object]:
    """Leaf paths of a configuration: maps are walked, lists and scalars are atomic."""
    if isinstance(value, dict) and value:
        out = {}
        for key, sub in value.items():
            out.update(_leaves(sub, (*prefix, key)))
        return out
    return {prefix: value}


def _get(obj, path: tuple):
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj


def _remove(obj: dict, path: tuple) -> None:
    parents = [obj]
    for key in path[:-1]:
        obj = obj.get(key)
        if not isinstance(obj, dict):
            return
        parents.append(obj)
    obj.pop(path[-1], None)
    for depth in range(len(path) - 1, 0, -1):  # drop maps the removal left empty
        if parents[depth] == {}:
            parents[depth - 1].pop(path[depth - 1], None)


def _merge(base: dict, patch: dict) -> dict:
    """RFC 7386 JSON merge patch (null removes); also how apply merges a configuration."""
    out = copy.deepcopy(base)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _selector_check(selector: str) -> None:
    """400 for a selector the API server can't parse, in its words."""
    for term in re.findall(r"[^,(]+(?:\([^)]*\))?", selector or ""):
        words = term.split()
        if len(words) >= 2 and words[1] not in ("in", "notin", "=", "==", "!=", "gt", "lt"):
            raise ApiError(
                400,
                "BadRequest",
                f"unable to parse requirement: found '{words[1].rstrip('!')}', expected: in, "
                "notin, =, ==, !=, gt, lt",
            )


def _selector_matches(selector: str, labels: dict) -> bool:
    for term in re.findall(r"[^,(]+(?:\([^)]*\))?", selector or ""):
        term = term.strip()
        if not term:
            continue
        if m := re.fullmatch(r"([^!=\s]+)\s+(in|notin)\s+\(([^)]*)\)", term):
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            if (labels.get(key) in values) != (op == "in"):
                return False
        elif m := re.fullmatch(r"([^!=\s]+)\s*(==|=|!=)\s*(\S*)", term):
            key, op, value = m.groups()
            if (labels.get(key) == value) != (op != "!="):
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


class FakeKube(LoopbackServer):
    """The fake API server; start() it, point a kubeconfig at `url`, stop() when done."""

    def __init__(self, terminating_gets: int = 0, authorize=None):
        # authorize(access, body) -> bool: RBAC for the portal's requests (None: all allowed).
        self.authorize = authorize
        self.accesses: list[Access] = []
        self.objects: dict[tuple, dict] = {}
        self.managers: dict[tuple, dict[str, dict[tuple, str]]] = {}  # key -> manager -> paths
        self.writes: list[Write] = []
        self.requests: list[tuple[str, str]] = []
        # Retry-After sent with an answer of that status (a test may change or add one, e.g. 503).
        self.retry_after: dict[int, str] = {429: "1"}
        # Seconds every request is held before it is served, like an API across a network
        # (bench/); and, when `calls` is a list, every request's method, path, type and body.
        self.latency = 0.0
        self.calls: list[tuple[str, str, str, bytes]] | None = None
        self.faults: list[Fault] = []
        self.chaos: Chaos | None = None
        self.dry_runs = 0  # dryRun=All writes answered (not in `writes`: nothing was stored)
        self.warnings: list[str] = []  # the Warning headers of the request being answered
        self.subresources: dict[tuple, dict[str, str]] = {}  # key -> manager -> subresource
        self.terminating_gets = terminating_gets  # GETs a deleted namespace stays Terminating
        # Whether the claims' storage class allows volume expansion (allowVolumeExpansion).
        self.expandable_claims = True
        # Whether metrics-server is installed: without it the API server knows no metrics.k8s.io.
        self.metrics_api = True
        self._terminating: dict[str, int] = {}
        self._rv = 100
        self.lock = threading.RLock()
        self.kubeconfig_path: Path | None = None
        for name in ("default", "kube-system"):
            self._store(("api/v1", "namespaces", "", name), self._new_namespace(name))

    # --- life cycle -----------------------------------------------------------------------------

    def start(self, kubeconfig_dir: Path | None = None) -> FakeKube:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self.listen(Handler)
        super().start()
        if kubeconfig_dir is not None:
            self.kubeconfig_path = Path(kubeconfig_dir) / "kubeconfig"
            self.kubeconfig_path.write_text(yaml.safe_dump(self.kubeconfig()))
        return self

    def kubeconfig(self) -> dict:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "portal", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "portal"}}],
            "current-context": "fake",
        }

    # --- controls for tests ---------------------------------------------------------------------

    def fail(self, method: str, pattern: str, status: int, times: int = 1, message: str = ""):
        """The next `times` requests whose method and path (regex) match answer `status`."""
        with self.lock:
            self.faults.append(Fault(method.upper(), pattern, times, status, message))

    def delay(self, method: str, pattern: str, seconds: float, times: int = 1):
        """The next `times` matching requests are held `seconds` before being served."""
        with self.lock:
            self.faults.append(Fault(method.upper(), pattern, times, seconds=seconds))

    def unreliable(self, rate: float, seed: int = 0, delay: float = 1.0) -> Chaos:
        """From now on `rate` of all requests answer 500 or 429 or wait up to `delay` seconds;
        the returned Chaos counts what was injected. unreliable(0) ends it."""
        with self.lock:
            self.chaos = Chaos(rate, seed, delay) if rate else None
            return self.chaos

    def get(self, kind: str, name: str, namespace: str = "") -> dict | None:
        with self.lock:
            for key, obj in self.objects.items():
                if obj["kind"] == kind and key[2] == namespace and key[3] == name:
                    return copy.deepcopy(obj)
        return None

    def list(self, kind: str, namespace: str | None = None) -> list[dict]:
        with self.lock:
            return [
                copy.deepcopy(obj)
                for key, obj in self.objects.items()
                if obj["kind"] == kind and (namespace is None or key[2] == namespace)
            ]

    @property
    def changing_writes(self) -> list[Write]:
        return [w for w in self.writes if w.changed]

    def mark_ready(self, namespace: str | None = None, *, leave_component: str = "") -> None:
        """Play the controllers: Deployments rolled out, Jobs complete, claims bound; the Jobs
        labelled with leave_component as their app.kubernetes.io/component are left to
        whoever plays them (tests/tenants/jobrunner.py runs the files Jobs' scripts)."""
        with self.lock:
            for key, obj in self.objects.items():
                if namespace is not None and key[2] != namespace:
                    continue
                labels = obj["metadata"].get("labels") or {}
                if leave_component and labels.get("app.kubernetes.io/component") == leave_component:
                    continue
                if obj["kind"] == "PersistentVolumeClaim":
                    obj["status"] = {"phase": "Bound", "accessModes": obj["spec"]["accessModes"]}
                if obj["kind"] == "Deployment":
                    n = obj["spec"].get("replicas", 1)
                    obj["status"] = {
                        "observedGeneration": obj["metadata"]["generation"],
                        "replicas": n,
                        "updatedReplicas": n,
                        "readyReplicas": n,
                        "availableReplicas": n,
                        "conditions": [
                            {"type": "Available", "status": "True", "reason": "MinimumReplicas"}
                        ],
                    }
                elif obj["kind"] == "Job" and not obj.get("status", {}).get("conditions"):
                    obj["status"] = {
                        "succeeded": 1,
                        "startTime": _now(),
                        "completionTime": _now(),
                        "conditions": [
                            {"type": "SuccessCriteriaMet", "status": "True"},
                            {"type": "Complete", "status": "True"},
                        ],
                    }

    def fail_job(self, namespace: str, name: str, reason: str, message: str) -> None:
        with self.lock:
            job = self.objects[("apis/batch/v1", "jobs", namespace, name)]
            job["status"] = {
                "failed": 1,
                "conditions": [
                    {"type": "FailureTarget", "status": "True", "reason": reason},
                    {"type": "Failed", "status": "True", "reason": reason, "message": message},
                ],
            }

    def edit(self, kind: str, name: str, namespace: str, patch: dict, manager: str) -> None:
        """A hand edit (kubectl edit) of another field manager: an update, as the API sees it."""
        gv, plural = next(k for k, v in RESOURCES.items() if v[0] == kind)
        with self.lock:
            self._patch_merge((gv, plural, namespace, name), patch, manager)

    def scale(self, name: str, namespace: str, replicas: int, manager: str = "kubectl") -> None:
        """`kubectl scale deployment`: a PATCH of the scale subresource by another manager."""
        body = json.dumps({"spec": {"replicas": replicas}}).encode()
        key = ("apis/apps/v1", "deployments", namespace, name)
        with self.lock:
            self._scale(key, "PATCH", {"fieldManager": manager}, {}, body)

    def create(self, obj: dict, manager: str = "kubectl") -> None:
        """`kubectl create`: an object made by someone else than the portal."""
        gv, plural, namespaced = _BY_KIND[obj["kind"]]
        namespace = obj["metadata"].get("namespace", "") if namespaced else ""
        with self.lock:
            self._create(gv, plural, namespace, copy.deepcopy(obj), manager)

    def remove(self, kind: str, name: str, namespace: str = "") -> None:
        """`kubectl delete`: an object of the tenant's deleted by hand."""
        gv, plural, namespaced = _BY_KIND[kind]
        with self.lock:
            self._delete((gv, plural, namespace if namespaced else "", name))

    # --- request handling -----------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers, body: bytes) -> tuple[int, dict]:
        parts = urlsplit(raw_path)
        path, query = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if self.latency:
            time.sleep(self.latency)
        with self.lock:
            self.requests.append((method, path))
            if self.calls is not None:
                self.calls.append((method, raw_path, headers.get("Content-Type") or "", body))
            self.warnings = []
            fault = next((f for f in self.faults if f.matches(method, path)), None)
            if fault:
                fault.remaining -= 1
            elif self.chaos:
                fault = self.chaos.draw()
        if fault and fault.seconds:
            time.sleep(fault.seconds)
        elif fault:
            reason = HTTPStatus(fault.status).phrase.replace(" ", "")
            raise ApiError(fault.status, reason, fault.message or f"injected {fault.status}")
        m = _PATH.match(path)
        if not m or (m.group(1), m.group(3)) not in RESOURCES:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        gv, namespace, plural, name = m.group(1), m.group(2) or "", m.group(3), m.group(4)
        if gv == METRICS and not self.metrics_api:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        kind, namespaced = RESOURCES[(gv, plural)]
        if m.group(5) and (not name or _SUBRESOURCES.get(kind) != m.group(5)):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if namespaced != bool(namespace) and not (namespaced and method == "GET" and not name):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        key = (gv, plural, namespace, name)
        with self.lock:
            self._authorize(method, key, m.group(5), query, headers, body)
            self._current_path = raw_path
            if gv == METRICS and method != "GET":
                raise ApiError(
                    405,
                    "MethodNotAllowed",
                    "the server does not allow this method on the requested resource",
                )
            if method != "GET" and query.get("dryRun") == "All":
                return self._dry_run(method, key, query, headers, body)
            return self._present(*self._serve(method, key, m.group(5), query, headers, body))

    def _dry_run(self, method, key, query, headers, body) -> tuple[int, dict]:
        """Everything a write does, answered, then forgotten (dryRun=All)."""
        saved = (
            copy.deepcopy(self.objects),
            copy.deepcopy(self.managers),
            self._rv,
            len(self.writes),
            dict(self._terminating),
        )
        old = self.objects.get(key)
        try:
            code, answer = self._present(*self._serve(method, key, None, query, headers, body))
        finally:
            self.objects, self.managers, self._rv = saved[0], saved[1], saved[2]
            del self.writes[saved[3] :]
            self._terminating = saved[4]
        self.dry_runs += 1
        if isinstance(answer.get("metadata"), dict) and "resourceVersion" in answer["metadata"]:
            if old is None:  # nothing stored: a created object has no version yet
                del answer["metadata"]["resourceVersion"]
            else:
                answer["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        return code, answer

    def _present(self, code: int, answer: dict) -> tuple[int, dict]:
        """An answer as the API server writes it: objects with their managedFields, list items
        without kind and apiVersion."""
        if "items" in answer:
            for item in answer["items"]:
                self._managed_fields(item)
                item.pop("kind", None)
                item.pop("apiVersion", None)
        elif answer.get("kind") in _BY_KIND and "metadata" in answer:
            self._managed_fields(answer)
        return code, answer

    def _managed_fields(self, obj: dict) -> None:
        gv, plural, namespaced = _BY_KIND[obj["kind"]]
        meta = obj["metadata"]
        key = (gv, plural, meta.get("namespace", "") if namespaced else "", meta["name"])
        entries = []
        for manager, paths in sorted(self.managers.get(key, {}).items()):
            for operation in sorted(set(paths.values())):
                fields: dict = {}
                for path, op in paths.items():
                    if op == operation:
                        node = fields
                        for part in path:
                            node = node.setdefault(f"f:{part}", {})
                entry = {
                    "manager": manager,
                    "operation": operation,
                    "apiVersion": obj["apiVersion"],
                    "time": _now(),
                    "fieldsType": "FieldsV1",
                    "fieldsV1": fields,
                }
                if sub := self.subresources.get(key, {}).get(manager):
                    entry["subresource"] = sub
                entries.append(entry)
        if entries:
            meta["managedFields"] = entries

    def _serve(self, method, key, subresource, query, headers, body) -> tuple[int, dict]:
        gv, plural, namespace, name = key
        if subresource == "scale":
            return self._scale(key, method, query, headers, body)
        if subresource == "status":
            return self._status(key, method, query, headers, body)
        if method == "GET":
            return (200, self._read(key)) if name else (200, self._list(gv, plural, namespace))
        if method == "DELETE" and name:
            return self._delete(key)
        manager = query.get("fieldManager") or _agent(headers)
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip()
        strict = query.get("fieldValidation") == "Strict"
        kind = RESOURCES[(gv, plural)][0]
        if method == "POST" and not name:
            obj = self._decode(self._parse(body, content_type), kind, strict)
            return self._create(gv, plural, namespace, obj, manager)
        if method == "PUT" and name:
            return self._replace(
                key, self._decode(self._parse(body, content_type), kind, strict), manager
            )
        if method == "PATCH" and name:
            if content_type == "application/apply-patch+yaml":
                if "fieldManager" not in query:
                    raise ApiError(
                        400,
                        "BadRequest",
                        "PatchOptions.meta.k8s.io is invalid: fieldManager: Required value: "
                        "is required for apply patch",
                    )
                patch = self._parse(body, content_type)
                return self._apply(key, patch, manager, query.get("force") == "true")
            if content_type in (
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
            ):
                patch = self._parse(body, content_type)
                return 200, self._patch_merge(key, patch, manager, strict)
            raise ApiError(415, "UnsupportedMediaType", "415: Unsupported Media Type", {})
        raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on {self._current_path}")

    def _scale(self, key, method, query, headers, body) -> tuple[int, dict]:
        """The Deployment's scale subresource, as `kubectl scale` uses it."""
        obj = self.objects.get(key)
        if obj is None:
            raise self._not_found(key)
        if method == "PATCH":
            patch = self._parse(body, "application/json")
            replicas = (patch.get("spec") or {}).get("replicas")
            manager = query.get("fieldManager") or _agent(headers)
            if replicas is not None:
                self._patch_merge(key, {"spec": {"replicas": replicas}}, manager)
                self.subresources.setdefault(key, {})[manager] = "scale"
            obj = self.objects[key]
        elif method != "GET":
            raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on scale")
        meta = obj["metadata"]
        labels = obj["spec"]["selector"].get("matchLabels") or {}
        return 200, {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                k: meta[k]
                for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            },
            "spec": {"replicas": obj["spec"].get("replicas", 1)},
            "status": {
                "replicas": (obj.get("status") or {}).get("replicas", 0),
                "selector": ",".join(f"{k}={v}" for k, v in labels.items()),
            },
        }

    def _status(self, key, method, query, headers, body) -> tuple[int, dict]:
        """A ResourceQuota's status subresource, as the quota controller writes it: only the
        status is taken (the spec stays as it was, pkg/registry/core/resourcequota/strategy.go,
        resourcequotaStatusStrategy), under a manager marked with subresource "status"."""
        old = self.objects.get(key)
        if old is None:
            raise self._not_found(key)
        if method == "GET":
            return 200, copy.deepcopy(old)
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip()
        if method == "PUT":
            sent = self._parse(body, content_type)
            sent_rv = (sent.get("metadata") or {}).get("resourceVersion")
            if sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
                raise ApiError(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on {key[1]} "{key[3]}": the object has been '
                    "modified; please apply your changes to the latest version and try again",
                )
            status = sent.get("status") or {}
        elif method == "PATCH" and content_type in (
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
        ):
            status = _merge(old, self._parse(body, content_type)).get("status") or {}
        elif method == "PATCH":
            raise ApiError(415, "UnsupportedMediaType", "415: Unsupported Media Type", {})
        else:
            raise ApiError(405, "MethodNotAllowed", f"{method} is not allowed on status")
        manager = query.get("fieldManager") or _agent(headers)
        return 200, self.write_status(key, status, manager, method=method)

    def write_status(self, key: tuple, status: dict, manager: str, method=None) -> dict:
        """Store `status` as the object's, by `manager` through the status subresource (a
        request's method is recorded in `writes`; a controller's in-process write is not)."""
        new = copy.deepcopy(self.objects[key])
        new["status"] = copy.deepcopy(status)
        try:
            schema_check(new)
        except jsonschema.ValidationError as exc:
            where = ".".join(map(str, exc.absolute_path))
            raise ApiError(
                422, "Invalid", f'{new["kind"]} "{key[3]}" is invalid: {where}: {exc.message}'
            ) from exc
        paths = {p: "Update" for p in _leaves(new["status"], ("status",))}
        self.managers.setdefault(key, {})[manager] = paths
        self.subresources.setdefault(key, {})[manager] = "status"
        return self._store(key, new, method=method, old=self.objects[key])

    def quota_used(self, namespace: str, name: str, used: dict[str, str]) -> None:
        """Play the quota controller: the quota's status is its spec's hard and `used`."""
        key = ("api/v1", "resourcequotas", namespace, name)
        with self.lock:
            hard = copy.deepcopy(self.objects[key]["spec"].get("hard") or {})
            self.write_status(key, {"hard": hard, "used": used}, "kube-controller-manager")

    def pod_usage(
        self, namespace: str, pod: str, usage: dict[str, dict[str, str]], labels: dict
    ) -> None:
        """Play metrics-server: the pod's PodMetrics, its containers' CPU and memory use as
        metrics-server writes them (`{"wordpress": {"cpu": "412345678n", "memory": "81920Ki"}}`),
        the pod's labels on it (a list's labelSelector picks pods by them)."""
        now = _now()
        metrics = {
            "kind": "PodMetrics",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {
                "name": pod,
                "namespace": namespace,
                "creationTimestamp": now,
                "labels": dict(labels),
            },
            "timestamp": now,
            "window": "15.012s",
            "containers": [{"name": name, "usage": dict(u)} for name, u in usage.items()],
        }
        with self.lock:
            self.objects[(METRICS, "pods", namespace, pod)] = metrics

    def _decode(self, obj: dict, kind: str, strict: bool) -> dict:
        """Unknown fields of a create or update: 400 with fieldValidation=Strict, else dropped
        with a warning (the default, Warn)."""
        obj = copy.deepcopy(obj)
        probe = {"apiVersion": "v1", "kind": kind, **obj} if "kind" not in obj else obj
        for path in undeclared_fields(probe):
            if strict:
                raise ApiError(
                    400,
                    "BadRequest",
                    f'{kind} in version "v1" cannot be handled as a {kind}: strict decoding '
                    f'error: unknown field "{strict_path(path)}"',
                )
            self.warnings.append(f'unknown field "{strict_path(path)}"')
            drop(obj, path)
        return obj

    def _authorize(
        self, method: str, key: tuple, subresource: str | None, query: dict, headers, body: bytes
    ) -> None:
        """Record the request's RBAC attributes and answer 403 where `authorize` says no."""
        gv, plural, namespace, name = key
        group = gv.split("/")[1] if gv.startswith("apis/") else ""
        if method == "GET":
            verb = "get" if name else ("watch" if query.get("watch") else "list")
        else:
            verbs = {"POST": "create", "PUT": "update", "PATCH": "patch"}
            verb = verbs.get(method) or ("delete" if name else "deletecollection")
        # RBAC sees a namespace request as one in that namespace.
        scope = name if plural == "namespaces" else namespace
        resource = f"{plural}/{subresource}" if subresource else plural
        wanted = [Access(group, resource, verb, scope, name or "")]
        content_type = (headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type == "application/apply-patch+yaml" and key not in self.objects:
            # A server-side apply that creates the object is authorized as a create as well.
            wanted.append(Access(group, resource, "create", scope, name))
        parsed = None
        if body and group == "rbac.authorization.k8s.io":
            parsed = self._parse(body, content_type)  # the escalation check reads the roleRef
        for access in wanted:
            self.accesses.append(access)
            if ACCESS_LOG:
                with open(ACCESS_LOG, "a") as log:
                    log.write(json.dumps(access.__dict__) + "\n")
            if self.authorize is not None and not self.authorize(access, parsed):
                what = f"{plural}.{group}" if group else plural
                named = f' "{name}"' if name else ""
                where = f' in the namespace "{namespace}"' if namespace else ""
                raise ApiError(
                    403,
                    "Forbidden",
                    f'{what}{named} is forbidden: User "portal" cannot {access.verb} '
                    f'resource "{resource}" in API group "{group}"{where}',
                )

    def _parse(self, body: bytes, content_type: str) -> dict:
        try:
            data = (
                yaml.load(body, Loader=_YAML_LOADER)
                if content_type.endswith("yaml")
                else json.loads(body or b"")
            )
        except (ValueError, yaml.YAMLError) as exc:
            raise ApiError(400, "BadRequest", f"error decoding request body: {exc}") from exc
        if not isinstance(data, dict):
            raise ApiError(400, "BadRequest", "the request body is not an object")
        return data

    # --- reads ----------------------------------------------------------------------------------

    def _not_found(self, key: tuple) -> ApiError:
        gv, plural, _, name = key
        details = _details(gv, name, plural)
        return ApiError(404, "NotFound", f'{_resource(gv, plural)} "{name}" not found', details)

    def _read(self, key: tuple) -> dict:
        obj = self.objects.get(key)
        if obj is None:
            raise self._not_found(key)
        if obj["kind"] == "Namespace" and key[3] in self._terminating:
            if self._terminating[key[3]] <= 0:
                self._finalize_namespace(key[3])
                raise self._not_found(key)
            self._terminating[key[3]] -= 1
        return copy.deepcopy(obj)

    def _list(self, gv: str, plural: str, namespace: str) -> dict:
        kind, _ = RESOURCES[(gv, plural)]
        query = parse_qs(urlsplit(self._current_path).query)
        selector = query.get("labelSelector", [""])[-1]
        _selector_check(selector)
        # In etcd's key order: namespace/name as one string.
        found = sorted(
            (f"{key[2]}/{key[3]}", obj)
            for key, obj in self.objects.items()
            if key[:2] == (gv, plural)
            and (not namespace or key[2] == namespace)
            and _selector_matches(selector, obj["metadata"].get("labels") or {})
        )
        start = query.get("continue", [""])[-1]
        found = [(k, o) for k, o in found if not start or k > start]
        # metrics-server answers a list whole, with no resourceVersion: it ignores limit.
        limit = 0 if gv == METRICS else int(query.get("limit", ["0"])[-1] or 0)
        meta = {} if gv == METRICS else {"resourceVersion": str(self._rv)}
        if limit and len(found) > limit:
            found = found[:limit]
            meta["continue"] = found[-1][0]  # opaque to clients: the last key served
        api_version = gv.removeprefix("api/").removeprefix("apis/")
        return {
            "kind": f"{kind}List",
            "apiVersion": api_version,
            "metadata": meta,
            "items": [copy.deepcopy(obj) for _, obj in found],
        }

    # --- writes ---------------------------------------------------------------------------------

    def _create(self, gv, plural, namespace, obj, manager) -> tuple[int, dict]:
        name = (obj.get("metadata") or {}).get("name")
        if not name:
            raise ApiError(422, "Invalid", "metadata.name: Required value: name is required")
        key = (gv, plural, namespace, name)
        if key in self.objects:
            raise ApiError(
                409,
                "AlreadyExists",
                f'{_resource(gv, plural)} "{name}" already exists',
                _details(gv, name, plural),
            )
        obj = self._admit(key, None, obj)
        self.managers[key] = {manager: dict.fromkeys(self._owned_paths(obj), "Update")}
        self._store(key, obj, method="POST")
        return 201, copy.deepcopy(obj)

    def _replace(self, key, obj, manager) -> tuple[int, dict]:
        old = self.objects.get(key)
        if old is None:
            raise self._not_found(key)
        sent_rv = (obj.get("metadata") or {}).get("resourceVersion")
        if sent_rv and sent_rv != old["metadata"]["resourceVersion"]:
            raise ApiError(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {key[1]} "{key[3]}": the object has been '
                "modified; please apply your changes to the latest version and try again",
            )
        obj.setdefault("status", old.get("status"))
        new = self._admit(key, old, obj)
        self._take_changed(key, old, new, manager)
        return 200, self._store(key, new, method="PUT", old=old)

    def _patch_merge(self, key, patch, manager, strict: bool = False) -> dict:
        old = self.objects.get(key)
        if old is None:
            raise self._not_found(key)
        if old["kind"] == "Secret":
            patch = self._string_data(patch)
        merged = self._decode(_merge(old, patch), old["kind"], strict)
        new = self._admit(key, old, merged)
        self._take_changed(key, old, new, manager)
        return self._store(key, new, method="PATCH", old=old)

    def _apply(self, key, config, manager, force) -> tuple[int, dict]:
        gv, plural, namespace, name = key
        kind, _ = RESOURCES[(gv, plural)]
        api_version = gv.removeprefix("api/").removeprefix("apis/")
        if config.get("apiVersion") != api_version or config.get("kind") != kind:
            raise ApiError(
                400,
                "BadRequest",
                f"the API version in the data ({config.get('apiVersion')}) or kind "
                f"({config.get('kind')}) does not match the expected {api_version} {kind}",
            )
        meta = config.get("metadata") or {}
        if meta.get("name") != name:
            raise ApiError(
                400,
                "BadRequest",
                f"the name of the object ({meta.get('name')}) does not match the name on the URL "
                f"({name})",
            )
        undeclared = undeclared_fields(config)
        if undeclared:
            # Server-side apply builds a typed patch first; whatever fieldValidation says, a
            # field its schema lacks makes that fail with a 500 (recorded, kube-apiserver 1.32).
            group = f"{api_version}" if "/" in api_version else f"/{api_version}"
            raise ApiError(
                500,
                "",
                f"failed to create typed patch object ({namespace}/{name}; {group}, Kind={kind}): "
                f"{smd_path(config, undeclared[0])}: field not declared in schema",
            )
        config = copy.deepcopy(config)
        normalize(config, defaults=False)
        if kind == "Secret":
            config = self._string_data(config)
        old = self.objects.get(key)
        live = copy.deepcopy(old) if old else {}
        owners = self.managers.get(key, {})
        applied = {
            p: v
            for p, v in _leaves(config).items()
            if ".".join(map(str, p)) not in _IDENTITY and p[:1] != ("status",)
        }
        conflicts = [
            (other, path)
            for other, paths in owners.items()
            if other != manager
            for path in applied
            if path in paths and _get(live, path) != applied[path]
        ]
        if conflicts and not force:
            raise self._conflict(key, conflicts)
        for other, path in conflicts:
            owners[other].pop(path, None)
        mine = owners.get(manager, {})
        for path in set(mine) - set(applied):  # fields this manager stopped setting
            if not any(path in paths for o, paths in owners.items() if o != manager):
                _remove(live, path)
        new = _merge(live, config)
        new = self._admit(key, old, new)
        new_owners = copy.deepcopy(owners)
        new_owners[manager] = dict.fromkeys(applied, "Apply")
        changed_owners = new_owners != owners
        self.managers[key] = new_owners
        if old is None:
            self._store(key, new, method="PATCH")
            return 201, copy.deepcopy(new)
        return 200, self._store(key, new, method="PATCH", old=old, force_change=changed_owners)

    def _conflict(self, key, conflicts: list[tuple[str, tuple]]) -> ApiError:
        """409 as structured-merge-diff words it: who owns which field, one cause per field."""
        causes, groups = [], {}
        for other, path in conflicts:
            who = f'"{other}"'
            if sub := self.subresources.get(key, {}).get(other):
                who += f' with subresource "{sub}" using {key[0].removeprefix("apis/")}'
            field = "." + ".".join(map(str, path))
            groups.setdefault(who, []).append(field)
            causes.append(
                {
                    "reason": "FieldManagerConflict",
                    "message": f"conflict with {who}",
                    "field": field,
                }
            )
        if len(conflicts) == 1:
            [(who, [field])] = groups.items()
            message = f"Apply failed with 1 conflict: conflict with {who}: {field}"
        else:
            message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(
                f"conflicts with {who}:\n" + "\n".join(f"- {f}" for f in fields)
                for who, fields in groups.items()
            )
        return ApiError(409, "Conflict", message, {"causes": causes})

    def _delete(self, key) -> tuple[int, dict]:
        obj = self.objects.get(key)
        if obj is None:
            raise self._not_found(key)
        if obj["kind"] == "Namespace":
            name = key[3]
            if name not in self._terminating:
                obj["metadata"]["deletionTimestamp"] = _now()
                obj["status"] = {"phase": "Terminating"}
                self._bump(obj)
                self._terminating[name] = self.terminating_gets
                self.writes.append(Write("DELETE", self._current_path, True))
            return 200, copy.deepcopy(obj)
        del self.objects[key]
        self.managers.pop(key, None)
        self.writes.append(Write("DELETE", self._current_path, True))
        details = {**_details(key[0], key[3], key[1]), "uid": obj["metadata"]["uid"]}
        return 200, {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }

    def _finalize_namespace(self, name: str) -> None:
        for key in [
            k for k in self.objects if k[2] == name or k == ("api/v1", "namespaces", "", name)
        ]:
            del self.objects[key]
            self.managers.pop(key, None)
        self._terminating.pop(name, None)

    # --- what the API server does with every write ----------------------------------------------

    def _owned_paths(self, obj: dict) -> list[tuple]:
        return [
            p
            for p in _leaves(obj)
            if p[:1] != ("status",)
            and ".".join(map(str, p)) not in _IDENTITY
            and p[:2]
            not in {
                ("metadata", "uid"),
                ("metadata", "resourceVersion"),
                ("metadata", "generation"),
                ("metadata", "creationTimestamp"),
            }
        ]

    def _take_changed(self, key, old, new, manager) -> None:
        owners = self.managers.setdefault(key, {})
        old_leaves, new_leaves = _leaves(old), _leaves(new)
        changed = [p for p in self._owned_paths(new) if old_leaves.get(p) != new_leaves.get(p)]
        gone = [p for p in old_leaves if p not in new_leaves]
        for paths in owners.values():
            for p in changed + gone:
                paths.pop(p, None)
        owners.setdefault(manager, {}).update(dict.fromkeys(changed, "Update"))

    def _string_data(self, obj: dict) -> dict:
        obj = copy.deepcopy(obj)
        for k, v in (obj.pop("stringData", None) or {}).items():
            obj.setdefault("data", {})[k] = base64.b64encode(str(v).encode()).decode()
        return obj

    def _admit(self, key, old: dict | None, obj: dict) -> dict:
        """Defaulting, validation and immutability, as the API server's write path does."""
        gv, plural, namespace, name = key
        kind, namespaced = RESOURCES[(gv, plural)]
        obj = copy.deepcopy(obj)
        obj["apiVersion"] = gv.removeprefix("api/").removeprefix("apis/")
        obj["kind"] = kind
        meta = obj.setdefault("metadata", {})
        if meta.get("name") != name:
            raise ApiError(400, "BadRequest", "the name of the object does not match the URL")
        if namespaced:
            if meta.setdefault("namespace", namespace) != namespace:
                raise ApiError(
                    400,
                    "BadRequest",
                    "the namespace of the provided object does not match the namespace sent "
                    "on the request",
                )
            ns = self.objects.get(("api/v1", "namespaces", "", namespace))
            if ns is None:
                raise self._not_found(("api/v1", "namespaces", "", namespace))
            if old is None and namespace in self._terminating:
                cause = {
                    "reason": "NamespaceTerminating",
                    "message": f"namespace {namespace} is being terminated",
                    "field": "metadata.namespace",
                }
                raise ApiError(
                    403,
                    "Forbidden",
                    f'{_resource(gv, plural)} "{name}" is forbidden: unable to create new content '
                    f"in namespace {namespace} because it is being terminated",
                    {**_details(gv, name, plural), "causes": [cause]},
                )
        label_name = kind in ("Namespace", "Service")
        pattern, limit = (_LABEL, 63) if label_name else (_SUBDOMAIN, 253)
        if len(name) > limit or not pattern.match(name):
            rule = _LABEL_RULE if label_name else _SUBDOMAIN_RULE
            problem = f'Invalid value: "{name}": {rule}'
            group = gv.split("/")[1] if gv.startswith("apis/") else ""
            cause = {"reason": "FieldValueInvalid", "message": problem, "field": "metadata.name"}
            title = f"{kind}.{group}" if group else kind
            raise ApiError(
                422,
                "Invalid",
                f'{title} "{name}" is invalid: metadata.name: {problem}',
                {**_details(gv, name, kind), "causes": [cause]},
            )
        for field in ("labels", "annotations"):
            for k, v in (meta.get(field) or {}).items():
                prefix, _, part = k.rpartition("/")
                if (prefix and not _SUBDOMAIN.match(prefix)) or not _NAME_PART.match(part):
                    raise ApiError(
                        422, "Invalid", f'{kind} "{name}" is invalid: metadata.{field}: "{k}"'
                    )
                if field == "labels" and (len(v) > 63 or not _LABEL_VALUE.match(v)):
                    raise ApiError(
                        422, "Invalid", f'{kind} "{name}" is invalid: metadata.labels: "{v}"'
                    )
        if old is not None:
            for field in ("uid", "creationTimestamp", "generation", "resourceVersion"):
                meta[field] = old["metadata"][field]
            if "deletionTimestamp" in old["metadata"]:
                meta["deletionTimestamp"] = old["metadata"]["deletionTimestamp"]
        normalize(obj)
        getattr(self, f"_admit_{kind.lower()}", lambda key, old, obj: None)(key, old, obj)
        meta.pop("managedFields", None)
        try:
            schema_check(obj)
        except jsonschema.ValidationError as exc:
            where = ".".join(map(str, exc.absolute_path))
            code, reason = (
                (400, "BadRequest") if exc.validator == "additionalProperties" else (422, "Invalid")
            )
            raise ApiError(
                code, reason, f'{kind} "{name}" is invalid: {where}: {exc.message}'
            ) from exc
        return obj

    def _admit_namespace(self, key, old, obj) -> None:
        obj["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = key[3]
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        if old is None:
            obj["status"] = {"phase": "Active"}

    def _admit_resourcequota(self, key, old, obj) -> None:
        # A write of the quota itself never sets its status: a create starts it empty, an update
        # keeps the old one (strategy.go PrepareForCreate/PrepareForUpdate); the recorded create
        # answers "status": {}, and a kubectl patch of spec.hard the controller's status as it was.
        obj["status"] = copy.deepcopy((old or {}).get("status") or {})

    def _admit_secret(self, key, old, obj) -> None:
        for k, v in (obj.get("data") or {}).items():
            if not _SECRET_KEY.match(k):
                raise ApiError(422, "Invalid", f'Secret "{key[3]}" is invalid: data[{k}]')
            try:
                base64.b64decode(v, validate=True)
            except (binascii.Error, TypeError) as exc:
                raise ApiError(400, "BadRequest", f"illegal base64 data in data[{k}]") from exc
        obj.setdefault("type", "Opaque")
        if old is not None and old.get("type") != obj["type"]:
            raise ApiError(
                422, "Invalid", f'Secret "{key[3]}" is invalid: type: field is immutable'
            )

    def _admit_service(self, key, old, obj) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        if spec["type"] == "ExternalName":
            # No cluster IP for a DNS alias: the API server allocates none.
            for port in spec.get("ports", []):
                port.setdefault("protocol", "TCP")
                port.setdefault("targetPort", port.get("port"))
            return
        ip = (
            old["spec"]["clusterIP"] if old else f"10.96.{len(self.objects) % 250}.{self._rv % 250}"
        )
        if spec.setdefault("clusterIP", ip) != ip:
            raise ApiError(
                422, "Invalid", f'Service "{key[3]}" is invalid: spec.clusterIP: field is immutable'
            )
        spec["clusterIPs"] = [ip]
        if spec["type"] in ("ClusterIP", "NodePort", "LoadBalancer"):
            spec.setdefault("sessionAffinity", "None")
            spec.setdefault("ipFamilies", ["IPv4"])
            spec.setdefault("ipFamilyPolicy", "SingleStack")
            spec.setdefault("internalTrafficPolicy", "Cluster")
        for port in spec.get("ports", []):
            port.setdefault("protocol", "TCP")
            port.setdefault("targetPort", port.get("port"))

    def _admit_deployment(self, key, old, obj) -> None:
        spec = obj.get("spec") or {}
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        if not selector or any(labels.get(k) != v for k, v in selector.items()):
            raise ApiError(
                422,
                "Invalid",
                f'Deployment.apps "{key[3]}" is invalid: spec.template.metadata.labels: '
                "Invalid value: `selector` does not match template `labels`",
            )
        if old is not None and old["spec"]["selector"] != spec["selector"]:
            raise ApiError(
                422,
                "Invalid",
                f'Deployment.apps "{key[3]}" is invalid: spec.selector: field is immutable',
            )
        spec.setdefault("replicas", 1)
        self._generation(old, obj)
        obj.setdefault("status", {})

    def _admit_job(self, key, old, obj) -> None:
        spec = obj.get("spec") or {}
        pod = (spec.get("template") or {}).get("spec") or {}
        if pod.get("restartPolicy") not in ("Never", "OnFailure"):
            raise ApiError(
                422,
                "Invalid",
                f'Job.batch "{key[3]}" is invalid: spec.template.spec.restartPolicy: '
                'Required value: valid values: "OnFailure", "Never"',
            )
        uid = old["metadata"]["uid"] if old else str(uuid.uuid4())
        generated = {
            "batch.kubernetes.io/controller-uid": uid,
            "batch.kubernetes.io/job-name": key[3],
            "controller-uid": uid,
            "job-name": key[3],
        }
        spec.setdefault("selector", {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}})
        template_meta = spec["template"].setdefault("metadata", {})
        template_meta["labels"] = {**(template_meta.get("labels") or {}), **generated}
        if old is not None and old["spec"]["template"] != spec["template"]:
            raise ApiError(
                422,
                "Invalid",
                f'Job.batch "{key[3]}" is invalid: spec.template: Invalid value: field is '
                "immutable",
            )
        obj["metadata"]["uid"] = uid
        self._generation(old, obj)

    def _admit_persistentvolumeclaim(self, key, old, obj) -> None:
        # Pending until a provisioner binds it (mark_ready plays that); protected from deletion
        # while in use, as the admission plugin does.
        obj.setdefault("status", {"phase": "Pending"})
        finalizers = obj["metadata"].setdefault("finalizers", [])
        if "kubernetes.io/pvc-protection" not in finalizers:
            finalizers.append("kubernetes.io/pvc-protection")
        if old is None:
            return
        size = lambda o: _get(o, ("spec", "resources", "requests", "storage"))  # noqa: E731
        from kubernetes.utils import parse_quantity

        immutable = (
            "Forbidden: spec is immutable after creation except resources.requests and "
            "volumeAttributesClassName for bound claims"
        )
        rest = lambda o: {**o["spec"], "resources": {}}  # noqa: E731
        bound = (old.get("status") or {}).get("phase") == "Bound"
        if rest(obj) != rest(old) or (not bound and size(obj) != size(old)):
            cause = {"reason": "FieldValueForbidden", "message": immutable, "field": "spec"}
            raise ApiError(
                422,
                "Invalid",
                f'PersistentVolumeClaim "{key[3]}" is invalid: spec: {immutable}',
                {**_details("api/v1", key[3], "PersistentVolumeClaim"), "causes": [cause]},
            )
        if parse_quantity(size(obj)) > parse_quantity(size(old)) and not self.expandable_claims:
            # The PersistentVolumeClaimResize admission plugin's refusal.
            raise ApiError(
                403,
                "Forbidden",
                f'persistentvolumeclaims "{key[3]}" is forbidden: only dynamically provisioned '
                "pvc can be resized and the storageclass that provisions the pvc must support "
                "resize",
            )
        if parse_quantity(size(obj)) < parse_quantity(size(old)):
            raise ApiError(
                422,
                "Invalid",
                f'PersistentVolumeClaim "{key[3]}" is invalid: spec.resources.requests.storage: '
                "Forbidden: field can not be less than previous value",
            )

    def _generation(self, old, obj) -> None:
        generation = old["metadata"]["generation"] if old else 1
        if old is not None and old.get("spec") != obj.get("spec"):
            generation += 1
        obj["metadata"]["generation"] = generation

    def _new_namespace(self, name: str) -> dict:
        return {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }

    def _bump(self, obj: dict) -> None:
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)

    def _store(self, key, obj, method=None, old=None, force_change=False) -> dict:
        meta = obj["metadata"]
        if old is None:
            meta.setdefault("uid", str(uuid.uuid4()))
            meta["creationTimestamp"] = _now()
            meta.setdefault("generation", 1)
            changed = True
        else:
            strip = lambda o: {**o, "metadata": {**o["metadata"], "resourceVersion": ""}}  # noqa: E731
            changed = strip(old) != strip(obj) or force_change
        if changed:
            self._bump(obj)
            self.objects[key] = obj
        if method:
            self.writes.append(Write(method, self._current_path, changed))
        return copy.deepcopy(self.objects[key])

    _current_path = ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else every answer waits ~40 ms for a delayed ACK
    server_fake: FakeKube

    def log_message(self, format, *args):  # keep test output quiet
        return

    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fake = self.server_fake
        try:
            code, payload = fake.handle(self.command, self.path, self.headers, body)
        except ApiError as exc:
            code = exc.code
            payload = {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": exc.message,
                **({"reason": exc.reason} if exc.reason else {}),
                **({"details": exc.details} if exc.details is not None else {}),
                "code": exc.code,
            }
        data = json.dumps(payload).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if code in fake.retry_after:
                self.send_header("Retry-After", fake.retry_after[code])
            for warning in fake.warnings:
                self.send_header("Warning", "299 - " + json.dumps(warning))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (a timeout test): nothing to answer
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve
