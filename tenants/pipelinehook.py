"""The pipeline's confirmation webhook: a signed word from a tenant's WordPress, recorded."""

import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from provisioning import secrets as keys
from tenants.models import Tenant

MAX_BODY = 64 * 1024
TIMESTAMP_HEADER = "X-Pipeline-Timestamp"
SIGNATURE_HEADER = "X-Pipeline-Signature"


@dataclass(frozen=True)
class Answer:
    status: int
    message: str


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """What the mu-plugin sends: sha256=HMAC(secret, "<timestamp>.<body>") in hex."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signing_key(tenant: Tenant) -> str | None:
    """The tenant's webhook key, read from its Secret (the portal's database never holds it)."""
    from provisioning.drivers.kubernetes import KubernetesSecrets, make_driver
    from provisioning.spec import spec_for

    driver = make_driver()
    if driver is None:
        return None
    return KubernetesSecrets(spec_for(tenant), driver).get(keys.PIPELINE_WEBHOOK_SECRET)


def receive(body: bytes, timestamp: str, signature: str) -> Answer:
    """Check the signature, the timestamp's age and that it wasn't seen before; then record."""
    refused = Answer(401, "signature refused")
    if len(body) > MAX_BODY:
        return Answer(413, "body too large")
    if not timestamp.isdigit() or not signature.startswith("sha256="):
        return refused
    if abs(time.time() - int(timestamp)) > settings.PORTAL_PIPELINE_WEBHOOK_TOLERANCE:
        return Answer(401, "timestamp too old or in the future")
    try:
        payload = json.loads(body)
        slug = payload["tenant"]
    except (ValueError, KeyError, TypeError):
        return Answer(400, "body is not the pipeline's JSON")
    tenant = Tenant.objects.filter(
        slug=slug, content_pipeline=True, desired_present=True, state__in=Tenant.LIVE_STATES
    ).first()
    if tenant is None:
        return refused  # same answer as a bad signature: the webhook tells nobody who exists
    try:
        secret = signing_key(tenant)
    except Exception:  # the cluster unreachable: the sender may try again
        return Answer(503, "the tenant's key can't be read just now")
    if not secret or not hmac.compare_digest(sign(secret, timestamp, body), signature):
        return refused
    # Each signature counts once while its timestamp is acceptable.
    window = 2 * settings.PORTAL_PIPELINE_WEBHOOK_TOLERANCE
    if not cache.add(f"pipeline-hook:{signature}", 1, timeout=window):
        return Answer(409, "already received")
    _record(tenant, payload)
    return Answer(200, "recorded")


def _record(tenant: Tenant, payload: dict) -> None:
    now = timezone.now()
    if payload.get("error"):
        Tenant.objects.filter(pk=tenant.pk).update(
            pipeline_error=str(payload["error"])[:500], pipeline_error_at=now
        )
        return
    title = str(payload.get("title") or "untitled")
    post = f"“{title}” (post {payload.get('post_id', '?')})"
    if payload.get("url"):
        post += f" {payload['url']}"
    Tenant.objects.filter(pk=tenant.pk).update(pipeline_confirmed_at=now, pipeline_post=post[:300])
