"""The HTTP server every fake runs on: a free loopback port, served from a daemon thread; it
can go away and come back on that port, like an API server that crashes and restarts."""

import contextlib
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class _Server(ThreadingHTTPServer):
    """Keeps the connections it accepted, so going away cuts them too: else a client's kept
    alive connection would still be answered by its handler thread."""

    # A handler thread stuck on a client that never closes must not hold the test run.
    daemon_threads = True

    def __init__(self, address, handler):
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, handler)

    def get_request(self):
        conn, address = super().get_request()
        with self.connections_lock:
            self.connections.add(conn)
        return conn, address

    def shutdown_request(self, request):
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def cut_connections(self) -> None:
        with self.connections_lock:
            open_now = list(self.connections)
        for conn in open_now:
            with contextlib.suppress(OSError):  # its handler closed it meanwhile
                conn.shutdown(socket.SHUT_RDWR)


class LoopbackServer:
    """Binds at once, so `url` is known before start(); serves on start(), closes on stop().
    A fake calls listen() with its handler class and inherits start/stop, down/up and `with`."""

    def listen(self, handler: type[BaseHTTPRequestHandler], path: str = "", port: int = 0) -> None:
        self._handler, self._path = handler, path
        self.server = _Server(("127.0.0.1", port), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{path}"
        # A short poll: stop() waits up to one interval for the serving loop to notice.
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def down(self) -> None:
        """The API goes away: its port refuses connections and the open ones are cut."""
        self.stop()
        self.server.cut_connections()

    def up(self) -> None:
        """The API comes back on the same port, with the state it had (a restart)."""
        self.listen(self._handler, self._path, port=self.server.server_address[1])
        LoopbackServer.start(self)  # not a fake's own start(), which would bind anew

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
