"""A small stateful fake of the IONOS Cloud API v6: users, their S3 keys and kubeconfigs.

Paths, field names, the envelope ({"id", "type", "href", "metadata", "properties"}),
collections ({"id", "type", "href", "items"}), status codes (POST /um/users 202, POST s3keys
201, DELETE 202) and the error body ({"httpStatus", "messages": [{"errorCode", "message"}]})
follow IONOS's OpenAPI document, so the official `ionoscloud` SDK parses every answer as it
would a real one. Bearer token or Basic auth, as the API takes either.
"""

import base64
import json
import re
import secrets
import threading
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loopback import LoopbackServer

BASE = "/cloudapi/v6"
MAX_S3_KEYS = 5  # IONOS lets one user hold at most five S3 keys
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _error(status: int, code: str, message: str) -> tuple[int, dict]:
    return status, {"httpStatus": status, "messages": [{"errorCode": code, "message": message}]}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeIonos(LoopbackServer):
    """The state of one fake IONOS Cloud contract plus the HTTP server that serves it."""

    def __init__(self, token: str = "test-ionos-token", basic: tuple[str, str] | None = None):
        self.token = token
        self.basic = basic or ("admin@example.com", "admin-password")
        self.lock = threading.Lock()
        self.users: dict[str, dict] = {}  # id -> {"properties":..., "metadata":..., "password"}
        self.s3keys: dict[str, dict[str, dict]] = defaultdict(dict)  # user id -> key id -> key
        self.kubeconfigs: dict[str, str] = {}  # cluster id -> kubeconfig YAML
        self.nodepools: dict[str, list[dict]] = defaultdict(list)  # cluster id -> pools
        self.contract_number = 31000000  # the number in IONOS's own bucket-policy examples
        self.requests: list[tuple[str, str]] = []  # (method, path) of every call, in order
        # Retry-After sent with an answer of that status (a test may change or add one, e.g. 503).
        self.retry_after: dict[int, str] = {429: "1"}
        self._faults: dict[str, list[tuple[str | None, int, float]]] = defaultdict(list)
        self.listen(_handler(self), BASE)

    # --- seeding and inspecting ------------------------------------------------------------------

    def add_cluster(self, kubeconfig: str, cluster_id: str | None = None) -> str:
        cluster_id = cluster_id or str(uuid.uuid4())
        self.kubeconfigs[cluster_id] = kubeconfig
        return cluster_id

    def add_nodepool(
        self, cluster_id: str, name: str, nodes: int, cores: int, ram_mib: int,
        autoscaling: tuple[int, int] | None = None,
    ) -> None:  # fmt: skip
        """A node pool of the cluster as GET /k8s/{id}/nodepools?depth=1 shows it."""
        properties = {
            "name": name, "datacenterId": str(uuid.uuid4()), "nodeCount": nodes,
            "cpuFamily": "INTEL_SKYLAKE", "coresCount": cores, "ramSize": ram_mib,
            "availabilityZone": "AUTO", "storageType": "SSD", "storageSize": 100,
            "k8sVersion": "1.32.6",
        }  # fmt: skip
        if autoscaling:
            properties["autoScaling"] = {
                "minNodeCount": autoscaling[0],
                "maxNodeCount": autoscaling[1],
            }
        pool_id = str(uuid.uuid4())
        self.nodepools[cluster_id].append(
            {
                "id": pool_id, "type": "nodepool",
                "href": f"{BASE}/k8s/{cluster_id}/nodepools/{pool_id}",
                "metadata": {"state": "ACTIVE", "createdDate": _now()},
                "properties": properties,
            }
        )  # fmt: skip

    def user_by_email(self, email: str) -> dict | None:
        return next(
            (u for u in self.users.values() if u["properties"]["email"] == email.lower()), None
        )

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if m != "GET"]

    def fail_next(
        self, path: str, status: int, times: int = 1, method: str | None = None, delay: float = 0
    ) -> None:
        """The next `times` calls to `path` (e.g. /cloudapi/v6/um/users), of any method or only
        `method`, answer `status` after `delay` seconds (status 0: only the delay, then the
        normal answer — a slow server)."""
        with self.lock:
            self._faults[path] += [(method, status, delay)] * times

    # --- the API ---------------------------------------------------------------------------------

    def fault_for(self, method: str, path: str) -> tuple[int, float] | None:
        with self.lock:
            faults = self._faults.get(path, [])
            for i, (only, status, delay) in enumerate(faults):
                if only in (None, method):
                    del faults[i]
                    return status, delay
        return None

    def handle(self, method: str, path: str, query: dict, body) -> tuple[int, object]:
        with self.lock:
            self.requests.append((method, path))
            if not path.startswith(BASE + "/"):
                return _error(404, "309", "Resource does not exist")
            route = path[len(BASE) :]
            for pattern, handlers in self._routes():
                match = re.fullmatch(pattern, route)
                if match:
                    handler = handlers.get(method)
                    if handler is None:
                        return _error(405, "102", f"Method {method} is not allowed")
                    return handler(query, body, *match.groups())
            return _error(404, "309", "Resource does not exist")

    def _routes(self):
        return [
            (r"/um/users/?", {"GET": self._users_list, "POST": self._user_create}),
            (
                r"/um/users/([^/]+)",
                {"GET": self._user_get, "PUT": self._user_put, "DELETE": self._user_delete},
            ),
            (
                r"/um/users/([^/]+)/s3keys/?",
                {"GET": self._keys_list, "POST": self._key_create},
            ),
            (
                r"/um/users/([^/]+)/s3keys/([^/]+)",
                {"GET": self._key_get, "DELETE": self._key_delete},
            ),
            (r"/k8s/([^/]+)/kubeconfig", {"GET": self._kubeconfig}),
            (r"/k8s/([^/]+)/nodepools/?", {"GET": self._nodepools}),
            (r"/contracts/?", {"GET": self._contracts}),
        ]

    def _contracts(self, query, body):
        # The contract the token's user acts in (the schema's Contracts: one item per contract).
        return 200, {
            "type": "contract",
            "items": [
                {
                    "type": "contract",
                    "properties": {
                        "contractNumber": self.contract_number,
                        "owner": self.basic[0],
                        "status": "BILLABLE",
                        "regDomain": "ionos.de",
                    },
                }
            ],
        }

    # users

    def _href(self, *parts: str) -> str:
        return f"https://api.ionos.com{BASE}/" + "/".join(parts)

    def _user_ref(self, user: dict) -> dict:
        return {"id": user["id"], "type": "user", "href": self._href("um", "users", user["id"])}

    def _user_out(self, user: dict) -> dict:
        return {
            **self._user_ref(user),
            "metadata": dict(user["metadata"]),
            "properties": dict(user["properties"]),
            "entities": {
                "owns": {"id": f"{user['id']}/owns", "type": "collection"},
                "groups": {"id": f"{user['id']}/groups", "type": "collection"},
            },
        }

    def _users_list(self, query, body):
        depth = int(query.get("depth", ["0"])[0])
        offset = int(query.get("offset", ["0"])[0])
        limit = int(query.get("limit", ["100"])[0])
        if limit < 1 or limit > 100 or offset < 0:
            return _error(422, "100", "[VDC-8-2] limit must be within 1..100, offset >= 0")
        rows = list(self.users.values())[offset : offset + limit]
        # In a collection, depth 0 gives references only; depth 1 adds each user's properties.
        items = [self._user_out(u) if depth >= 1 else self._user_ref(u) for u in rows]
        return 200, {
            "id": "users",
            "type": "collection",
            "href": self._href("um", "users"),
            "items": items,
            "offset": offset,
            "limit": limit,
            "_links": {},
        }

    def _user_create(self, query, body):
        props = (body or {}).get("properties")
        if not isinstance(props, dict):
            return _error(422, "100", "[VDC-3-1] Attribute 'properties' is required")
        for field in ("firstname", "lastname", "email", "password"):
            if not isinstance(props.get(field), str) or not props[field]:
                return _error(422, "100", f"[VDC-13-1] Attribute '{field}' is required")
        email = props["email"].lower()
        if not EMAIL.match(email):
            return _error(422, "100", f"[VDC-13-3] Attribute 'email' is invalid: {email}")
        if len(props["password"]) < 5:
            return _error(422, "100", "[VDC-13-4] The password is too short")
        for field in ("administrator", "forceSecAuth", "secAuthActive", "active"):
            if field in props and not isinstance(props[field], bool):
                return _error(422, "100", f"[VDC-13-2] Attribute '{field}' must be a boolean")
        if self.user_by_email(email):
            return _error(422, "100", f"[VDC-13-5] The e-mail address {email} is already in use")
        user_id = str(uuid.uuid4())
        user = {
            "id": user_id,
            "password": props["password"],  # kept to test that it never leaves the portal
            "metadata": {
                "etag": uuid.uuid4().hex,
                "createdDate": _now(),
                "lastLogin": None,
            },
            "properties": {
                "firstname": props["firstname"],
                "lastname": props["lastname"],
                "email": email,
                "administrator": props.get("administrator", False),
                "forceSecAuth": props.get("forceSecAuth", False),
                "secAuthActive": props.get("secAuthActive", False),
                "s3CanonicalUserId": secrets.token_hex(32),
                "active": props.get("active", True),
            },
        }
        self.users[user_id] = user
        return 202, self._user_out(user)

    def _user_get(self, query, body, user_id):
        user = self.users.get(user_id)
        if user is None:
            return _error(404, "309", "Resource does not exist")
        return 200, self._user_out(user)

    def _user_put(self, query, body, user_id):
        user = self.users.get(user_id)
        if user is None:
            return _error(404, "309", "Resource does not exist")
        props = (body or {}).get("properties")
        if not isinstance(props, dict):
            return _error(422, "100", "[VDC-3-1] Attribute 'properties' is required")
        # A PUT replaces: the API wants these every time, not only the ones that change.
        for field in ("firstname", "lastname", "email", "administrator", "forceSecAuth"):
            if field not in props:
                return _error(422, "100", f"[VDC-13-1] Attribute '{field}' is required")
        email = str(props["email"]).lower()
        other = self.user_by_email(email)
        if other is not None and other["id"] != user_id:
            return _error(422, "100", f"[VDC-13-5] The e-mail address {email} is already in use")
        kept = ("firstname", "lastname", "administrator", "forceSecAuth", "secAuthActive", "active")
        user["properties"].update({k: props[k] for k in kept if k in props}, email=email)
        user["metadata"]["etag"] = uuid.uuid4().hex
        return 202, self._user_out(user)

    def _user_delete(self, query, body, user_id):
        if self.users.pop(user_id, None) is None:
            return _error(404, "309", "Resource does not exist")
        self.s3keys.pop(user_id, None)  # a user's keys go with the user
        return 202, None

    # S3 keys

    def _key_out(self, user_id: str, key: dict, with_secret: bool = False) -> dict:
        properties = {"active": key["active"]}
        if with_secret:  # the secret is only ever shown in the answer to the create
            properties["secretKey"] = key["secretKey"]
        return {
            "id": key["id"],
            "type": "s3key",
            "href": self._href("um", "users", user_id, "s3keys", key["id"]),
            "metadata": {"etag": key["etag"], "createdDate": key["createdDate"]},
            "properties": properties,
        }

    def _keys_list(self, query, body, user_id):
        if user_id not in self.users:
            return _error(404, "309", "Resource does not exist")
        depth = int(query.get("depth", ["0"])[0])
        items = []
        for key in self.s3keys[user_id].values():
            out = self._key_out(user_id, key)
            items.append(out if depth >= 1 else {k: out[k] for k in ("id", "type", "href")})
        return 200, {
            "id": f"{user_id}/s3keys",
            "type": "collection",
            "href": self._href("um", "users", user_id, "s3keys"),
            "items": items,
        }

    def _key_create(self, query, body, user_id):
        if user_id not in self.users:
            return _error(404, "309", "Resource does not exist")
        if len(self.s3keys[user_id]) >= MAX_S3_KEYS:
            return _error(422, "100", f"[VDC-25-2] A user can have at most {MAX_S3_KEYS} S3 keys")
        key = {
            "id": secrets.token_hex(10).upper(),
            "secretKey": secrets.token_urlsafe(30)[:40],
            "active": True,
            "etag": uuid.uuid4().hex,
            "createdDate": _now(),
        }
        self.s3keys[user_id][key["id"]] = key
        return 201, self._key_out(user_id, key, with_secret=True)

    def _key_get(self, query, body, user_id, key_id):
        key = self.s3keys.get(user_id, {}).get(key_id)
        if user_id not in self.users or key is None:
            return _error(404, "309", "Resource does not exist")
        return 200, self._key_out(user_id, key)

    def _key_delete(self, query, body, user_id, key_id):
        if user_id not in self.users or self.s3keys[user_id].pop(key_id, None) is None:
            return _error(404, "309", "Resource does not exist")
        return 202, None

    # Managed Kubernetes

    def _nodepools(self, query, body, cluster_id):
        if cluster_id not in self.kubeconfigs and cluster_id not in self.nodepools:
            return _error(404, "309", "Resource does not exist")
        pools = self.nodepools.get(cluster_id, [])
        # depth=0 lists references only; the capacity hint asks for depth 1 (the properties).
        items = pools if int(query.get("depth", ["0"])[-1]) >= 1 else [
            {k: p[k] for k in ("id", "type", "href")} for p in pools
        ]  # fmt: skip
        return 200, {
            "id": f"{cluster_id}/nodepools", "type": "collection",
            "href": f"{BASE}/k8s/{cluster_id}/nodepools", "items": items,
        }  # fmt: skip

    def _kubeconfig(self, query, body, cluster_id):
        text = self.kubeconfigs.get(cluster_id)
        if text is None:
            return _error(404, "309", "Resource does not exist")
        return 200, text


def _handler(fake: FakeIonos):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's urllib3 pool expects

        def log_message(self, format, *args):  # quiet: pytest shows failures, not traffic
            return

        def _authorized(self) -> bool:
            auth = self.headers.get("Authorization") or ""
            if auth == f"Bearer {fake.token}":
                return True
            user, password = fake.basic
            basic = base64.b64encode(f"{user}:{password}".encode()).decode()
            return auth == f"Basic {basic}"

        def _serve(self, method: str):
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            fault = fake.fault_for(method, parts.path)
            if fault:
                status, delay = fault
                time.sleep(delay)
                if status:
                    with fake.lock:
                        fake.requests.append((method, parts.path))
                    return self._send(*_error(status, str(status), f"Injected failure {status}"))
            if not self._authorized():
                return self._send(*_error(401, "315", "Unauthorized"))
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                return self._send(*_error(400, "100", "[VDC-1-1] Malformed JSON"))
            status, payload = fake.handle(method, parts.path, parse_qs(parts.query), body)
            self._send(status, payload)

        def _send(self, status: int, payload) -> None:
            if isinstance(payload, str):
                data, kind = payload.encode(), "application/yaml"
            else:
                data = b"" if payload is None else json.dumps(payload).encode()
                kind = "application/json"
            self.send_response(status)
            if payload is not None:
                self.send_header("Content-Type", kind)
            if status in fake.retry_after:
                self.send_header("Retry-After", fake.retry_after[status])
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    for verb in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        setattr(Handler, f"do_{verb}", lambda self, verb=verb: self._serve(verb))
    return Handler
