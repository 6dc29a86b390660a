"""A small stateful fake of the IONOS Cloud DNS API (dns.de-fra.ionos.com): zones and records.

Paths, query names (filter.zoneId, filter.name, filter.type, offset, limit), the envelopes
(ZoneRead, RecordRead, RecordReadList with _links), status codes (POST and PUT records 202 with
the record, DELETE 202) and the error body ({"httpStatus", "messages": [{"errorCode",
"message"}]}) follow the DNS API's OpenAPI document as the official `ionoscloud-dns` SDK was
generated from it; request bodies are validated by that SDK's own models, so a body the real
API's schema refuses is refused here (400). Bearer token auth.
"""

import json
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from ionoscloud_dns.models import RecordCreate, RecordEnsure
from pydantic import ValidationError

from tests.fakes.loopback import LoopbackServer


def _error(status: int, code: str, message: str) -> tuple[int, dict]:
    return status, {"httpStatus": status, "messages": [{"errorCode": code, "message": message}]}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class FakeIonosDns(LoopbackServer):
    """One contract's DNS zones and records, and the HTTP server that serves them."""

    def __init__(self, token: str = "test-ionos-token"):
        self.token = token
        self.lock = threading.Lock()
        self.zones: dict[str, dict] = {}  # id -> {"zoneName", "description", "enabled"}
        self.records: dict[str, dict] = {}  # id -> {"zoneId", "properties": {...}}
        self.requests: list[tuple[str, str]] = []
        self.faults: list[tuple[str, int]] = []  # (method, status) for the next matching call
        self.listen(_handler(self))

    # --- controls for tests ---------------------------------------------------------------------

    def add_zone(self, name: str) -> str:
        zone_id = str(uuid.uuid4())
        self.zones[zone_id] = {"zoneName": name, "description": "", "enabled": True}
        return zone_id

    def add_record(self, zone_id: str, name: str, content: str, type_: str = "A") -> str:
        record_id = str(uuid.uuid4())
        self.records[record_id] = {
            "zoneId": zone_id,
            "properties": {
                "name": name, "type": type_, "content": content, "ttl": 3600, "priority": 0,
                "enabled": True,
            },
        }  # fmt: skip
        return record_id

    def fail(self, method: str, status: int) -> None:
        """The next request with this method answers `status`."""
        self.faults.append((method, status))

    def named(self, zone_id: str, name: str) -> list[dict]:
        return [
            r["properties"]
            for r in self.records.values()
            if r["zoneId"] == zone_id and r["properties"]["name"] == name
        ]

    # --- answers --------------------------------------------------------------------------------

    def _record_out(self, record_id: str) -> dict:
        record = self.records[record_id]
        zone = self.zones[record["zoneId"]]["zoneName"]
        name = record["properties"]["name"]
        return {
            "id": record_id,
            "type": "record",
            "href": f"/zones/{record['zoneId']}/records/{record_id}",
            "metadata": {
                "createdDate": _now(), "lastModifiedDate": _now(), "state": "AVAILABLE",
                "fqdn": f"{name}.{zone}" if name and name != "@" else zone,
                "zoneId": record["zoneId"],
            },
            "properties": record["properties"],
        }  # fmt: skip

    def handle(self, method: str, raw: str, headers, body: bytes) -> tuple[int, dict | None]:
        parts = urlsplit(raw)
        path, query = parts.path.rstrip("/"), {k: v[-1] for k, v in parse_qs(parts.query).items()}
        with self.lock:
            self.requests.append((method, path))
            if headers.get("Authorization") != f"Bearer {self.token}":
                return _error(401, "paas-auth-1", "Unauthorized")
            fault = next((f for f in self.faults if f[0] == method), None)
            if fault:
                self.faults.remove(fault)
                return _error(fault[1], "dns-fault", f"injected {fault[1]}")
            segments = path.strip("/").split("/")
            if segments == ["records"] and method == "GET":
                return self._list(query)
            if len(segments) >= 2 and segments[0] == "zones":
                zone_id = segments[1]
                if zone_id not in self.zones:
                    return _error(404, "dns-404", f"zone {zone_id} not found")
                if len(segments) == 2 and method == "GET":
                    return 200, self._zone_out(zone_id)
                if segments[2:] == ["records"] and method == "POST":
                    return self._create(zone_id, body)
                if len(segments) == 4 and segments[2] == "records":
                    return self._one(method, zone_id, segments[3], body)
            return _error(404, "dns-404", f"no route {method} {path}")

    def _zone_out(self, zone_id: str) -> dict:
        return {
            "id": zone_id, "type": "zone", "href": f"/zones/{zone_id}",
            "metadata": {
                "createdDate": _now(), "lastModifiedDate": _now(), "state": "AVAILABLE",
                "nameservers": ["ns-ic.ui-dns.com", "ns-ic.ui-dns.de"],
            },
            "properties": self.zones[zone_id],
        }  # fmt: skip

    def _list(self, query: dict) -> tuple[int, dict]:
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 100))
        if not 1 <= limit <= 1000:
            return _error(400, "dns-400", "limit must be between 1 and 1000")
        found = [
            record_id
            for record_id, r in self.records.items()
            if (not query.get("filter.zoneId") or r["zoneId"] == query["filter.zoneId"])
            # The API's filter.name matches records whose name *contains* the text.
            and query.get("filter.name", "") in r["properties"]["name"]
            and (not query.get("filter.type") or r["properties"]["type"] == query["filter.type"])
        ]
        page = found[offset : offset + limit]
        return 200, {
            "id": "records", "type": "collection", "href": "/records",
            "items": [self._record_out(record_id) for record_id in page],
            "offset": offset, "limit": limit, "_links": {},
        }  # fmt: skip

    def _validated(self, model, body: bytes) -> dict | tuple[int, dict]:
        try:
            data = json.loads(body or b"{}")
            model.from_dict(data)  # the schema the real API holds bodies to
        except (ValueError, ValidationError) as exc:
            return _error(400, "dns-400", f"invalid body: {exc}")
        properties = data.get("properties") or {}
        if properties.get("name") is None or not properties.get("type"):
            return _error(400, "dns-400", "properties.name and properties.type are required")
        return {"ttl": 3600, "priority": 0, "enabled": True, "content": "", **properties}

    def _create(self, zone_id: str, body: bytes) -> tuple[int, dict]:
        properties = self._validated(RecordCreate, body)
        if isinstance(properties, tuple):
            return properties
        record_id = str(uuid.uuid4())
        self.records[record_id] = {"zoneId": zone_id, "properties": properties}
        return 202, self._record_out(record_id)

    def _one(self, method: str, zone_id: str, record_id: str, body: bytes):
        record = self.records.get(record_id)
        if method == "PUT":
            properties = self._validated(RecordEnsure, body)
            if isinstance(properties, tuple):
                return properties
            self.records[record_id] = {"zoneId": zone_id, "properties": properties}
            return 202, self._record_out(record_id)
        if record is None or record["zoneId"] != zone_id:
            return _error(404, "dns-404", f"record {record_id} not found")
        if method == "GET":
            return 200, self._record_out(record_id)
        if method == "DELETE":
            del self.records[record_id]
            return 202, None
        return _error(405, "dns-405", f"{method} not allowed")


def _handler(fake: FakeIonosDns):
    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            status, payload = fake.handle(
                self.command, self.path, self.headers, self.rfile.read(length)
            )
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, *args):
            pass

    return Handler
