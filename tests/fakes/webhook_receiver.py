"""A webhook receiver on loopback: records each POST (headers, body) and answers `status`."""

import json
from http.server import BaseHTTPRequestHandler

from tests.fakes.loopback import LoopbackServer


class Receiver(LoopbackServer):
    """What a customer's endpoint is to the portal; `url` ends in /hook."""

    def __init__(self):
        self.requests: list[tuple[dict, bytes]] = []
        self.status = 204
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.listen(Handler, "/hook")

    def events(self) -> list[str]:
        return [json.loads(body)["type"] for _, body in self.requests]
