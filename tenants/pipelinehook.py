"""The pipeline's webhook: a tenant's WordPress confirms, the pipeline reports errors; signed."""

import contextlib
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, transaction
from django.utils import timezone

from provisioning import secrets as keys
from tenants.audit import audit_record
from tenants.models import AuditEvent, Tenant

MAX_BODY = 64 * 1024
TIMESTAMP_HEADER = "X-Pipeline-Timestamp"
SIGNATURE_HEADER = "X-Pipeline-Signature"
# What the pipeline (deploy/platform/apps/content-pipeline/publish.py) may report, in the
# portal's words: the page and the audit show these and never a text the sender chose.
REASONS = {
    "ai_unset": "no AI endpoint is configured",
    "ai_unreachable": "the AI endpoint can't be reached",
    "ai_refused": "the AI endpoint refused the request",
    "ai_answer": "the AI endpoint's answer is not a chat completion",
    "ai_no_post": "the AI endpoint wrote no usable post",
    "token_unreachable": "Authentik can't be reached",
    "token_refused": "Authentik refused the tenant's credentials",
    "token_answer": "Authentik's answer held no token",
    "site_unreachable": "the tenant's site can't be reached",
    "site_refused": "the tenant's site refused the post",
    "site_answer": "the tenant's site answered without the post",
}
# An error code (invalid_grant, rest_cannot_create) or an exception's name (ConnectTimeout):
# short, so nothing of a token's length fits.
CODE = re.compile(r"[A-Za-z][\w.-]{0,39}")


@dataclass(frozen=True)
class Answer:
    status: int
    message: str


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """What the mu-plugin sends: sha256=HMAC(secret, "<timestamp>.<body>") in hex."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def signing_key(tenant: Tenant, key: str = keys.PIPELINE_WEBHOOK_SECRET) -> str | None:
    """One of the tenant's webhook keys, read from its Secret (never in the portal's database):
    the site's for confirmations, the pipeline's for its error reports."""
    from provisioning.drivers.kubernetes import KubernetesSecrets, make_driver
    from provisioning.spec import spec_for

    driver = make_driver()
    if driver is None:
        return None
    return KubernetesSecrets(spec_for(tenant), driver).get(key)


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
        failed = "error" in payload
    except (ValueError, KeyError, TypeError):
        return Answer(400, "body is not the pipeline's JSON")
    try:
        tenant = Tenant.objects.filter(
            slug=slug, content_pipeline=True, desired_present=True, state__in=Tenant.LIVE_STATES
        ).first()
    except DatabaseError:  # the sender may try again
        return Answer(503, "the portal's database can't be read just now")
    if tenant is None:
        return refused  # same answer as a bad signature: the webhook tells nobody who exists
    try:
        secret = signing_key(
            tenant, keys.PIPELINE_REPORT_SECRET if failed else keys.PIPELINE_WEBHOOK_SECRET
        )
    except Exception:  # the cluster unreachable: the sender may try again
        return Answer(503, "the tenant's key can't be read just now")
    if not secret or not hmac.compare_digest(sign(secret, timestamp, body), signature):
        return refused
    message = error_message(payload["error"]) if failed else None
    if failed and message is None:
        return Answer(400, "not an error the portal knows")
    # Each signature counts once while its timestamp is acceptable. A sender whose request got
    # a 503 sends the very request again (deploy/.../publish.py, portal-pipeline.php): a 503
    # must leave no mark, and a repeat of one recorded is a 409 the sender takes as delivered.
    marker = f"pipeline-hook:{signature}"
    window = 2 * settings.PORTAL_PIPELINE_WEBHOOK_TOLERANCE
    try:
        fresh = cache.add(marker, 1, timeout=window)
    except Exception:  # the cache unreachable: a replay can't be ruled out, nor a retry refused
        return Answer(503, "replays can't be checked just now")
    if not fresh:
        return Answer(409, "already received")
    try:
        if failed:
            _record_error(tenant, payload["error"]["reason"], message)
        else:
            _record(tenant, payload)
    except DatabaseError:
        with contextlib.suppress(Exception):
            cache.delete(marker)
        return Answer(503, "it can't be recorded just now")
    return Answer(200, "recorded")


def error_message(said) -> str | None:
    """The page's sentence for a report {"reason", "status"?, "code"?}; None: no known reason."""
    if not isinstance(said, dict) or not isinstance(said.get("reason"), str):
        return None
    if said["reason"] not in REASONS:
        return None
    details = []
    status = said.get("status")
    if type(status) is int and 100 <= status <= 599:
        details.append(f"HTTP {status}")
    code = said.get("code")
    if isinstance(code, str) and CODE.fullmatch(code):
        details.append(code)
    text = REASONS[said["reason"]]
    text = text[0].upper() + text[1:]
    return f"{text} ({', '.join(details)})" if details else text


def _record_error(tenant: Tenant, reason: str, message: str) -> None:
    with transaction.atomic():
        Tenant.objects.filter(pk=tenant.pk).update(
            pipeline_error=message, pipeline_error_at=timezone.now()
        )
        audit_record(
            action=AuditEvent.Action.TENANT_PIPELINE_FAILED,
            actor_name="content pipeline",
            obj=tenant,
            after={"reason": reason},
            message=f"publication failed: {message}",
        )


def _record(tenant: Tenant, payload: dict) -> None:
    now = timezone.now()
    title = str(payload.get("title") or "untitled")
    post = f"“{title}” (post {payload.get('post_id', '?')})"
    if payload.get("url"):
        post += f" {payload['url']}"
    # A publication confirmed: whatever failed before works again.
    Tenant.objects.filter(pk=tenant.pk).update(
        pipeline_confirmed_at=now,
        pipeline_post=post[:300],
        pipeline_error="",
        pipeline_error_at=None,
    )
