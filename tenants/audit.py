"""Writing and verifying the hash-chained audit trail."""

import hashlib
import json
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from portal import requestcontext
from tenants.models import AuditEvent

GENESIS = "0" * 64
# Any constant works: it names the one advisory lock that orders writers of the chain.
_CHAIN_LOCK_KEY = 740_221_001
SYSTEM_ACTOR = "system"


def _digest(event: AuditEvent) -> str:
    payload = {
        "created_at": event.created_at.isoformat(),
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "ip": event.ip,
        "request_id": event.request_id,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "object_repr": event.object_repr,
        "before": event.before,
        "after": event.after,
        "message": event.message,
        "prev_hash": event.prev_hash,
    }
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _actor_name(actor, ctx: requestcontext.RequestContext) -> str:
    if actor is None:
        return ctx.actor_name or SYSTEM_ACTOR
    return f"{actor.get_username()} via {ctx.via}" if ctx.via else actor.get_username()


def audit_record(
    *,
    action: str,
    actor=None,
    actor_name: str | None = None,
    obj=None,
    before: dict | None = None,
    after: dict | None = None,
    message: str = "",
) -> AuditEvent:
    """Append one event to the chain, inside the caller's transaction."""
    ctx = requestcontext.current()
    # No savepoint inside the caller's transaction (two queries an event saved): an error here
    # is the caller's to roll back whole; alone, it is a transaction of its own, which the
    # advisory lock needs to hold from the read of the last hash to the insert.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            # Serialise writers so two transactions never chain onto the same predecessor.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
        if actor is not None and not getattr(actor, "is_authenticated", False):
            actor = None
        event = AuditEvent(
            created_at=timezone.now(),
            actor=actor,
            actor_name=(actor_name or _actor_name(actor, ctx))[:150],
            ip=ctx.ip,
            request_id=ctx.request_id,
            action=action,
            object_type=obj._meta.model_name if obj is not None else "",
            object_id=str(obj.pk) if obj is not None else "",
            object_repr=str(obj)[:200] if obj is not None else "",
            before=before,
            after=after,
            message=message,
            prev_hash=last or GENESIS,
        )
        # JSON round trip so the hash covers exactly what the database will hand back.
        event.before = json.loads(json.dumps(before, default=str)) if before is not None else None
        event.after = json.loads(json.dumps(after, default=str)) if after is not None else None
        event.hash = _digest(event)
        event.save()
    return event


@dataclass(frozen=True)
class ChainBreak:
    event_id: int
    reason: str


def audit_verify() -> tuple[int, ChainBreak | None]:
    """Walk the chain oldest first; return how many events were checked and the first break."""
    expected_prev = GENESIS
    checked = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        if event.prev_hash != expected_prev:
            return checked, ChainBreak(event.id, "it does not follow the event before it")
        if _digest(event) != event.hash:
            return checked, ChainBreak(event.id, "its content does not match its hash")
        expected_prev = event.hash
        checked += 1
    return checked, None
