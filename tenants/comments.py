"""A conversation on each request: comments between requester and admins, notes only admins see."""

from django.core.exceptions import ValidationError
from django.db import transaction

from portal import roles
from portal.errors import ApplicationError
from portal.freetext import refuse_nul
from tenants import notifications
from tenants.audit import audit_record
from tenants.models import AuditEvent, Tenant

Action = AuditEvent.Action
MAX_LENGTH = 2000


def comment_add(*, tenant: Tenant, actor, text: str, admins_only: bool = False) -> AuditEvent:
    """Kept in the tenant's audit trail (its history) and mailed to the other side."""
    if roles.is_auditor(actor):
        raise ApplicationError("Auditors read the conversation; they don't take part.")
    is_admin = roles.is_approver(actor)
    if tenant.owner_id != actor.pk and not is_admin:
        raise ApplicationError("Only the requester and platform admins can comment here.")
    if admins_only and not is_admin:
        raise ApplicationError("Only platform admins can leave notes for admins.")
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": ["Write something to send."]})
    refuse_nul("text", text, "A comment")
    if len(text) > MAX_LENGTH:
        raise ValidationError(
            {"text": [f"Keep it to {MAX_LENGTH} characters; this has {len(text)}."]}
        )
    with transaction.atomic():
        event = audit_record(
            action=Action.TENANT_NOTED if admins_only else Action.TENANT_COMMENTED,
            actor=actor,
            obj=tenant,
            message=text,
        )
        notifications.queue_notice("comment", event.pk)
    return event
