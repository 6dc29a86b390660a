"""Writing and verifying the hash-chained audit trail."""

import hashlib
import json
import secrets
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import signals
from django.utils import timezone

from portal import requestcontext
from tenants.models import AuditEvent

GENESIS = "0" * 64
# The columns tenants_auditevent_chain() fills, in its order.
_CHAINED = ("id", "prev_hash", "hash")
_CHAINED_FIELDS = tuple(AuditEvent._meta.get_field(name) for name in _CHAINED)
SYSTEM_ACTOR = "system"
# The chain's lock, held by each writer until it commits (tenants_auditevent_chain, migration
# 0036); a run's INSERT takes it too (provisioning.runs), so no writer ever waits for a run's
# number while holding it.
CHAIN_LOCK = 740221001


def _canonical(event: AuditEvent) -> str:
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
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)


def _digest(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event).encode()).hexdigest()


def _chained_in_the_insert(event: AuditEvent) -> None:
    """Insert the event in one statement that takes the chain's lock, reads the last hash and
    hashes, in PostgreSQL (tenants_auditevent_chain, migration 0036): the canonical JSON is
    made here with a stand-in for the predecessor's hash, which the database puts in its place
    before hashing (SHA-256 of the same characters as _digest's: the JSON is ASCII)."""
    stand_in = secrets.token_hex(32)  # a hash's length and alphabet: JSON writes it as it is
    event.prev_hash = stand_in
    canonical = _canonical(event)
    fields = [f for f in AuditEvent._meta.concrete_fields if f.name not in _CHAINED]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in (*_CHAINED_FIELDS, *fields))
    values = [f.get_db_prep_save(getattr(event, f.attname), connection) for f in fields]
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    slots = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT c.id, c.prev_hash, c.hash, {slots}"  # noqa: S608
            " FROM tenants_auditevent_chain(%s, %s) c RETURNING id, prev_hash, hash",
            [*values, canonical, stand_in],
        )
        event.pk, event.prev_hash, event.hash = cursor.fetchone()
    db = connection.alias
    event._state.adding, event._state.db = False, db
    # What save() would have told: the webhooks hear of events this way (api/apps.py).
    done = {"instance": event, "created": True, "update_fields": None, "raw": False, "using": db}
    signals.post_save.send(AuditEvent, **done)


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
    # is the caller's to roll back whole; alone, it is a transaction of its own, for the chain's
    # lock (taken by the insert itself on PostgreSQL) and the webhook deliveries it queues.
    with transaction.atomic(savepoint=False):
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
        )
        # JSON round trip so the hash covers exactly what the database will hand back.
        event.before = json.loads(json.dumps(before, default=str)) if before is not None else None
        event.after = json.loads(json.dumps(after, default=str)) if after is not None else None
        if connection.vendor == "postgresql":
            _chained_in_the_insert(event)
        else:
            last = AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first()
            event.prev_hash = last or GENESIS
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
