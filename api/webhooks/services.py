"""Registering and removing webhook endpoints; the secret is returned once, never stored."""

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction

from api.models import WebhookEndpoint
from api.webhooks import addresses, signing
from api.webhooks.events import EVENT_TYPES
from portal import roles
from portal.errors import ApplicationError
from tenants.audit import audit_record
from tenants.models import AuditEvent

Action = AuditEvent.Action


def endpoint_create(
    *, actor, url: str, events: list[str], tenant=None, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint; returns it and its secret, to be shown to the actor this once."""
    if tenant is None and not roles.is_approver(actor):
        raise ApplicationError("Only platform admins may hear every tenant's events.")
    if tenant is not None and not (roles.is_approver(actor) or tenant.owner_id == actor.pk):
        raise ApplicationError("You can register webhooks only for tenants you own.")
    errors: dict[str, list[str]] = {}
    url = (url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        errors["url"] = ["Enter the receiver's full http:// or https:// address."]
    else:
        # Checked again at each delivery, as the name may resolve elsewhere by then.
        refusal = addresses.url_refusal(url)
        if refusal:
            errors["url"] = [refusal]
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if not events:
        errors["events"] = ["Choose at least one event."]
    elif unknown:
        errors["events"] = [f"Unknown event: {', '.join(unknown)}."]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            url=url,
            description=description.strip()[:200],
            tenant=tenant,
            events=sorted(set(events)),
            salt=signing.new_salt(),
            created_by=actor,
        )
        audit_record(
            action=Action.WEBHOOK_CREATED,
            actor=actor,
            obj=endpoint,
            after={
                "url": url,
                "events": endpoint.events,
                "tenant": tenant.slug if tenant else None,
            },
        )
    return endpoint, signing.endpoint_secret(endpoint.salt)


def endpoint_enable(*, actor, endpoint: WebhookEndpoint) -> None:
    """Back on after the receiver was fixed: the failure count starts again."""
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            is_active=True, consecutive_failures=0, disabled_at=None, disabled_reason=""
        )
        audit_record(action=Action.WEBHOOK_ENABLED, actor=actor, obj=endpoint)


def endpoint_delete(*, actor, endpoint: WebhookEndpoint) -> None:
    """Removed with its delivery log; admins remove any, owners their tenants' ones."""
    owns = endpoint.tenant is not None and endpoint.tenant.owner_id == actor.pk
    if not (roles.is_approver(actor) or owns):
        raise ApplicationError("You can remove webhooks only of tenants you own.")
    with transaction.atomic():
        audit_record(action=Action.WEBHOOK_DELETED, actor=actor, obj=endpoint)
        endpoint.delete()
