"""A custom host's proof of control: the DNS TXT record its owner makes, and the look-up of it."""

from dataclasses import dataclass

import dns.exception
import dns.name
import dns.nameserver
import dns.resolver
from django.conf import settings
from django.utils.crypto import salted_hmac

VALUE_PREFIX = "wp-portal-verify="


def proof_name(host: str) -> str:
    """Where the TXT record lives: under a label of ours, so the host's own records stay."""
    return f"{settings.PORTAL_HOST_PROOF_LABEL}.{host}"


def proof_value(tenant_id: int, host: str) -> str:
    """The TXT record's value for this tenant and host. Derived, not stored: the same pair
    always gives it, and nobody without the portal's key can make one. It shows control of the
    host's DNS and opens nothing, so it is shown to whoever sees the tenant."""
    digest = salted_hmac(
        "tenants.hostproof", f"{tenant_id}:{host.lower()}", algorithm="sha256"
    ).hexdigest()
    return VALUE_PREFIX + digest[:32]


@dataclass(frozen=True)
class Finding:
    proven: bool
    words: str  # what was found and what to do, for the owner


def _nameserver(text: str) -> dns.nameserver.Nameserver:
    """`ip`, `ip:port`, `[ipv6]:port` or a bare IPv6 address."""
    address, port = text.strip(), 53
    if address.startswith("["):
        address, _, rest = address[1:].partition("]")
        port = int(rest.lstrip(":") or 53)
    elif address.count(":") == 1:
        address, _, rest = address.partition(":")
        port = int(rest)
    return dns.nameserver.Do53Nameserver(address, port)


def _resolver() -> dns.resolver.Resolver:
    configured = settings.PORTAL_DNS_RESOLVERS
    resolver = dns.resolver.Resolver(configure=not configured)
    if configured:
        resolver.nameservers = [_nameserver(text) for text in configured]
    resolver.lifetime = settings.PORTAL_DNS_TIMEOUT
    resolver.timeout = min(resolver.timeout, settings.PORTAL_DNS_TIMEOUT)
    resolver.cache = None  # the owner checks right after changing the record
    return resolver


def check(tenant_id: int, host: str) -> Finding:
    """Ask DNS whether the host's TXT proof holds the tenant's value; every failure in words."""
    name, want = proof_name(host), proof_value(tenant_id, host)
    try:
        answer = _resolver().resolve(
            dns.name.from_text(name), "TXT", search=False, raise_on_no_answer=False
        )
    except dns.resolver.NXDOMAIN:
        return Finding(
            False,
            f"No record: {name} does not exist in DNS (NXDOMAIN). Create it as a TXT record "
            "with the value shown, then check again; a new record can take a few minutes to "
            "be seen.",
        )
    except dns.exception.Timeout:
        return Finding(
            False,
            f"The DNS servers did not answer within {settings.PORTAL_DNS_TIMEOUT:g} s, so "
            "nothing was decided; check again in a while.",
        )
    except dns.resolver.NoNameservers:
        return Finding(
            False,
            f"The DNS servers could not answer for {name} (the domain's own servers failed: "
            "SERVFAIL or refused). Check that the domain's DNS works, then check again.",
        )
    except (dns.exception.DNSException, ValueError, OSError) as exc:
        # A resolver setting that can't be used, or no resolver on the machine: the admins'.
        return Finding(
            False,
            f"The portal could not look up {name} ({type(exc).__name__}); nothing was "
            "decided. Check again later; if it keeps failing, ask a platform admin "
            "(PORTAL_DNS_RESOLVERS).",
        )
    values = (
        [b"".join(record.strings).decode("utf-8", "replace") for record in answer.rrset]
        if answer.rrset is not None
        else []
    )
    if want in values:
        return Finding(True, f"Proven: {name} holds the value shown.")
    if not values:
        return Finding(
            False,
            f"No TXT record at {name}: the name exists but holds no TXT record. Add one with "
            "the value shown, then check again.",
        )
    found = ", ".join(f"“{value[:80]}”" for value in values[:3])
    return Finding(
        False,
        f"Wrong value: the TXT record at {name} says {found}, not the value shown. Change it "
        "to the value shown, then check again.",
    )
