"""A requests session whose connections go only to the checked addresses of the receiver's host.

The host is resolved once, inside the connection, each address checked, and the socket opened
to a checked address: no second lookup (a DNS rebinding answer) comes between check and connect.
The connection keeps the name as its host, so the Host header, TLS SNI and the certificate's
check are by name as usual. The pattern is Sentry's `sentry.http` SafeConnectionMixin: urllib3's
HTTPConnection._new_conn overridden, its pools named in the PoolManager's
pool_classes_by_scheme, mounted through requests' HTTPAdapter.init_poolmanager."""

import socket
import sys

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from api.webhooks.addresses import checked_addresses


class _CheckedConnectionMixin:
    def _new_conn(self) -> socket.socket:
        try:
            addresses = checked_addresses(self._dns_host, self.port)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        error: OSError | None = None
        for ip in addresses:  # in the resolver's order, as socket.create_connection tries them
            try:
                sock = create_connection(
                    (ip, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as exc:
                raise ConnectTimeoutError(
                    self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
                ) from exc
            except OSError as exc:
                error = exc
                continue
            sys.audit("http.client.connect", self, self.host, self.port)
            return sock
        raise NewConnectionError(self, f"Failed to establish a new connection: {error}")


class _CheckedHTTPConnection(_CheckedConnectionMixin, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedConnectionMixin, HTTPSConnection):
    pass


class _CheckedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPConnectionPool,
            "https": _CheckedHTTPSConnectionPool,
        }


def checked_session() -> requests.Session:
    """A session for one delivery; NotPublic is raised from a request to a refused address."""
    session = requests.Session()
    # No proxies or .netrc from the environment: a proxy would be the one checked and connected
    # to, and the receiver's address never looked at.
    session.trust_env = False
    adapter = _CheckedAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
