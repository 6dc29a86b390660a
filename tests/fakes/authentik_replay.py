"""A real Authentik's recorded answers served on loopback, so the sso step runs against them.

Each request gets the next recorded answer to the same credentials, method, path and query (the
last one again once they run out). Beyond the recording, only what the recording itself tells:
a PATCH of an object recorded by a GET is answered with that object, patched (what authentik
does), and a GET of a path recorded as 404 is a 404. Anything else is 501 and listed in
`.unrecorded`, so a test sees every call the recording can't answer.
"""

import json
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.loopback import LoopbackServer


class RecordedAuthentik(LoopbackServer):
    def __init__(self, records: list[dict], token: str = "recorded-admin-token"):
        self.token = token
        self._answers: dict[tuple, list[dict]] = defaultdict(list)
        self._objects: dict[str, dict] = {}  # path -> the object last answered for it
        self._missing: dict[str, dict] = {}  # path -> a recorded 404 body
        for record in records:
            key = _key(record["auth"], record["method"], record["path"], record["query"])
            self._answers[key].append(record)
            if record["status"] == 404:
                self._missing[record["path"]] = record["response_body"]
        self.calls: list[tuple[str, str, dict | None]] = []  # (method, path?query, body)
        self.unrecorded: list[str] = []
        self._lock = threading.Lock()
        self.listen(_handler(self))

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _ in self.calls if m != "GET"]

    def serve(self, auth: str, method: str, path: str, query: list, body) -> tuple[int, object]:
        with self._lock:
            shown = path + ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "")
            self.calls.append((method, shown, body))
            queue = self._answers.get(_key(auth, method, path, query))
            if queue:
                record = queue.pop(0) if len(queue) > 1 else queue[0]
                if method == "GET" and record["status"] == 200 and not query:
                    self._objects[path] = record["response_body"]
                return record["status"], record["response_body"]
            if method == "PATCH" and path in self._objects and isinstance(body, dict):
                self._objects[path] = {**self._objects[path], **body}
                return 200, self._objects[path]
            if method == "GET" and path in self._missing:
                return 404, self._missing[path]
            self.unrecorded.append(f"{method} {shown}")
            return 501, {"detail": f"Not in the recording: {method} {shown}"}


def _key(auth: str, method: str, path: str, query) -> tuple:
    return auth, method, path, tuple(tuple(pair) for pair in query)


def _handler(replay: RecordedAuthentik):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # quiet: pytest shows failures, not traffic
            return

        def _serve(self):
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            header = self.headers.get("Authorization") or ""
            if not header:
                auth = "none"
            elif not header.startswith("Bearer "):
                auth = "token:other"
            else:
                auth = "bearer:admin" if header == f"Bearer {replay.token}" else "bearer:other"
            body = json.loads(raw) if raw else None
            query = parse_qsl(parts.query, keep_blank_values=True)
            status, payload = replay.serve(auth, self.command, parts.path, query, body)
            data = b"" if payload is None or status == 204 else json.dumps(payload).encode()
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

    return Handler
