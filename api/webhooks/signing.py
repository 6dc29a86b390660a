"""Endpoint secrets and signatures in the Standard Webhooks scheme (standardwebhooks.com).

Headers webhook-id, webhook-timestamp and webhook-signature = "v1,<base64 HMAC-SHA256 of
'<id>.<timestamp>.<body>'>"; the secret is shown as "whsec_<base64 key>"."""

import base64
import hashlib
import hmac
import secrets

from django.conf import settings

SECRET_PREFIX = "whsec_"


def new_salt() -> str:
    return secrets.token_hex(16)


def _key(salt: str) -> bytes:
    # Derived, not stored: the database holds the salt only; the key comes from the
    # environment (PORTAL_WEBHOOK_KEY), so a copy of the database forges nothing.
    master = (settings.PORTAL_WEBHOOK_KEY or settings.SECRET_KEY).encode()
    return hmac.new(master, f"webhook-secret:{salt}".encode(), hashlib.sha256).digest()


def endpoint_secret(salt: str) -> str:
    """The secret the receiver verifies with, as shown to the admin once."""
    return SECRET_PREFIX + base64.b64encode(_key(salt)).decode()


def signature(*, salt: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(salt), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(*, secret: str, headers: dict, body: bytes) -> bool:
    """What a receiver does (used by the tests, and a model for receivers)."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [part.split(",", 1)[-1] for part in headers["webhook-signature"].split()]
    return any(hmac.compare_digest(expected, sig) for sig in offered)
