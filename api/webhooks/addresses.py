"""Which addresses a webhook may be sent to: public ones, and the networks the operator allows."""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.module_loading import import_string

# Beside the URL field, and why a registration is refused: the same words for a private address
# and a name that doesn't resolve, so registering is no way to learn which internal names exist.
HELP = (
    "An http:// or https:// address on the public internet: loopback, private, link-local and "
    "other internal addresses (such as a cloud's metadata service) are refused."
)
REFUSED = (
    "Enter a receiver on the public internet: this address is loopback, private, link-local or "
    "otherwise internal, or its name does not resolve."
)
# What a delivery records when it was refused: never whether anything answers there.
NOT_PUBLIC = "The receiver's address is not public."

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class NotPublic(Exception):
    """The receiver's host resolved to an address webhooks may not be sent to."""


def system_resolve(host: str, port: int) -> list[str]:
    """The host's addresses as the system resolver gives them (hosts file, search domains)."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def _embedded(address: Address) -> Address:
    """The IPv4 address an IPv6 one carries (mapped or NAT64), which is where it really goes."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [
        ipaddress.ip_network(n.strip(), strict=False)
        for n in settings.PORTAL_WEBHOOK_ALLOWED_NETWORKS
        if n.strip()
    ]


def may_send_to(ip: str) -> bool:
    """Whether one resolved address is public, or in a network the operator allows."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])  # an IPv6 zone names no network
    except ValueError:
        return False
    inner = _embedded(address)
    if any(a in net for net in _allowed_networks() for a in {address, inner}):
        return True
    # is_global alone lets multicast and the reserved ranges through.
    return inner.is_global and not (inner.is_multicast or inner.is_reserved)


def checked_addresses(host: str, port: int) -> list[str]:
    """`host` resolved once; NotPublic unless every address may be sent to, else them all.

    Every one, not the first: a connection may fall back to any of them. The resolver's errors
    (a name that doesn't resolve) pass through."""
    resolve = import_string(settings.PORTAL_WEBHOOK_RESOLVER)
    addresses = resolve(host, port)
    if not addresses or not all(may_send_to(ip) for ip in addresses):
        raise NotPublic(host)
    return addresses


def url_refusal(url: str) -> str | None:
    """Why `url` (an http(s) URL already) can't be a receiver, or None when it can."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        checked_addresses(parts.hostname or "", port)
    except (NotPublic, OSError, UnicodeError, ValueError):
        return REFUSED
    return None
