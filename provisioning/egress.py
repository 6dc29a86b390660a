"""Where a tenant's pods may connect out to besides DNS: the database, S3 and Authentik."""

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from provisioning import authentikurls

# What an unnarrowed target allows: any IPv4 address, on that service's port only.
ANYWHERE = "0.0.0.0/0"
_OPEN = {ANYWHERE, "::/0"}


@dataclass(frozen=True)
class Target:
    """One service the tenants reach: the NetworkPolicy peers it is at, and on which port."""

    what: str  # "the database"
    setting: str  # the CIDR setting that narrows it
    address: str  # its host as configured
    peers: tuple[dict, ...]
    port: int | None  # None: any port of the peers (a Service's port is not its pods')

    @property
    def open(self) -> bool:
        return any(p.get("ipBlock", {}).get("cidr") in _OPEN for p in self.peers)

    def rule(self) -> dict:
        rule: dict = {"to": list(self.peers)}
        if self.port:
            rule["ports"] = [{"protocol": "TCP", "port": self.port}]
        return rule


def _blocks(cidrs) -> tuple[dict, ...]:
    return tuple({"ipBlock": {"cidr": cidr}} for cidr in cidrs)


def _namespace(name: str) -> dict:
    # The API server sets kubernetes.io/metadata.name on every namespace to its name (since
    # 1.22; kubernetes.io/docs/concepts/services-networking/network-policies/, "Targeting a
    # Namespace by its name"): no namespace of another name can carry it.
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def ip_block(host: str) -> str | None:
    """An IP literal as the /32 (or /128) that is exactly it; None for a name."""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
    return f"{address}/{address.max_prefixlen}"


def cluster_namespace(host: str) -> str | None:
    """The namespace of an in-cluster Service name (<service>.<namespace>.svc[.<cluster
    domain>]); None for anything else, a bare Service name included: that one would resolve
    in the tenant's own namespace, where no platform service runs."""
    labels = host.lower().rstrip(".").split(".")
    if len(labels) >= 3 and labels[2] == "svc" and all(labels[:2]):
        return labels[1]
    return None


def _target(
    what: str,
    setting: str,
    host: str,
    port: int,
    configured_port: int | None,
    via: tuple[dict, ...] = (),
) -> Target:
    """The peers, first found: the CIDRs configured; the address itself when it is an IP; the
    Service's namespace when it is an in-cluster name (any port there: a policy sees the pod's
    port, not the Service's, unless one is configured); else any address (`via`: peers that
    reach it besides, which then stand alone)."""
    cidrs = getattr(settings, setting)
    namespace = cluster_namespace(host)
    if cidrs:
        peers = _blocks(cidrs)
    elif block := ip_block(host):
        peers = _blocks([block])
    elif namespace:
        return Target(what, setting, host, (*via, _namespace(namespace)), configured_port)
    else:
        peers = () if via else _blocks([ANYWHERE])
    return Target(what, setting, host, (*via, *peers), configured_port or port)


def _url_port(url: str, fallback: int) -> int:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return port or {"https": 443, "http": 80}.get(parts.scheme, fallback)


def db_address() -> tuple[str, int]:
    """The database's host and port as WordPress connects to it (PORTAL_WORDPRESS_DB_HOST,
    host[:port] or [v6]:port; else PORTAL_MARIADB_URL's; else mariadb:3306)."""
    value = settings.PORTAL_WORDPRESS_DB_HOST
    if not value and settings.PORTAL_MARIADB_URL:
        parts = urlsplit(settings.PORTAL_MARIADB_URL)
        return parts.hostname or "mariadb", parts.port or 3306
    value = value or "mariadb:3306"
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":")
        return host, int(port) if port.isdigit() else 3306
    if ip_block(value):  # a bare IPv6 address: its colons are not a port
        return value, 3306
    host, _, port = value.rpartition(":")
    return (host, int(port)) if port.isdigit() and host else (value, 3306)


def database() -> Target:
    host, port = db_address()
    return _target(
        "the database", "PORTAL_EGRESS_DB_CIDRS", host, port, settings.PORTAL_EGRESS_DB_PORT
    )


def _at_url(what: str, setting: str, url: str, port: int | None, via=()) -> Target:
    return _target(what, setting, urlsplit(url).hostname or "", _url_port(url, 443), port, via)


def s3() -> Target:
    return _at_url(
        "S3",
        "PORTAL_EGRESS_S3_CIDRS",
        settings.PORTAL_S3_ENDPOINT_URL,
        settings.PORTAL_EGRESS_S3_PORT,
    )


def authentik() -> Target:
    """Authentik as the pods call it (token, userinfo, keys). Served by this cluster's ingress
    controller, its public address is reached there: traffic from a pod to the controller's
    load balancer address is usually sent straight to the controller's pods (kube-proxy), which
    an ipBlock of that address may not match: Kubernetes leaves it undefined whether a policy
    sees an address before or after such rewriting (the network-policies page above, ipBlock)."""
    url = authentikurls.api_url()
    via = (
        (_namespace(settings.PORTAL_INGRESS_NAMESPACE),)
        if settings.PORTAL_EGRESS_AUTHENTIK_VIA_INGRESS
        else ()
    )
    return _at_url(
        "Authentik",
        "PORTAL_EGRESS_AUTHENTIK_CIDRS",
        url,
        settings.PORTAL_EGRESS_AUTHENTIK_PORT,
        via,
    )


def targets() -> list[Target]:
    return [database(), s3(), authentik()]
