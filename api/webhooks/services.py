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


def _url_errors(url: str) -> list[str]:
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        return ["Enter the receiver's full http:// or https:// address."]
    # Checked again at each delivery, as the name may resolve elsewhere by then.
    refusal = addresses.url_refusal(url)
    return [refusal] if refusal else []


def _events_errors(events) -> list[str]:
    if not events:
        return ["Choose at least one event."]
    if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
        return ["Give the events as a list of event types."]
    unknown = sorted(set(events) - set(EVENT_TYPES))
    return [f"Unknown event: {', '.join(unknown)}."] if unknown else []


def _check(*, url: str | None = None, events=None) -> None:
    """ValidationError by field for a URL or events (each when given) a receiver can't have."""
    errors = {}
    if url is not None and (url_errors := _url_errors(url)):
        errors["url"] = url_errors
    if events is not None and (events_errors := _events_errors(events)):
        errors["events"] = events_errors
    if errors:
        raise ValidationError(errors)


def _may_point_at(actor, tenant) -> None:
    """Whose events the actor may have sent: every tenant's for admins, else an owned one's."""
    if tenant is None and not roles.is_approver(actor):
        raise ApplicationError("Only platform admins may hear every tenant's events.")
    if tenant is not None and not (roles.is_approver(actor) or tenant.owner_id == actor.pk):
        raise ApplicationError("You can register webhooks only for tenants you own.")


def endpoint_create(
    *, actor, url: str, events: list[str], tenant=None, description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint; returns it and its secret, to be shown to the actor this once."""
    _may_point_at(actor, tenant)
    url = (url or "").strip()
    _check(url=url, events=events)
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


# What an endpoint's change records, before and after; never its salt (the secret's seed).
_AUDITED = ("url", "description", "tenant", "events", "is_active")


def _audited(endpoint: WebhookEndpoint) -> dict:
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "tenant": endpoint.tenant.slug if endpoint.tenant_id else None,
        "events": endpoint.events,
        "is_active": endpoint.is_active,
    }


def endpoint_update_check(*, actor, endpoint: WebhookEndpoint, **changes) -> dict:
    """The changes cleaned, or why not (ValidationError by field, ApplicationError for who)."""
    unknown = set(changes) - set(_AUDITED)
    if unknown:
        raise TypeError(f"Not a field an endpoint changes: {', '.join(sorted(unknown))}")
    current = WebhookEndpoint.objects.select_related("tenant").get(pk=endpoint.pk)
    owns = current.tenant is not None and current.tenant.owner_id == actor.pk
    if not (roles.is_approver(actor) or owns):
        raise ApplicationError("You can change webhooks only of tenants you own.")
    if "url" in changes:
        changes["url"] = (changes["url"] or "").strip()
    if "description" in changes:
        changes["description"] = (changes["description"] or "").strip()[:200]
    if "tenant" in changes:
        _may_point_at(actor, changes["tenant"])
    _check(
        # A URL left as it was is not looked up again: deliveries check it each time.
        url=changes["url"] if changes.get("url", current.url) != current.url else None,
        events=changes.get("events"),
    )
    if "events" in changes:
        changes["events"] = sorted(set(changes["events"]))
    return changes


def endpoint_update(*, actor, endpoint: WebhookEndpoint, **changes) -> WebhookEndpoint:
    """Change an endpoint's URL, description, tenant, events or whether it is on; audited."""
    changes = endpoint_update_check(actor=actor, endpoint=endpoint, **changes)
    with transaction.atomic():
        current = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        before = _audited(current)
        for field, value in changes.items():
            setattr(current, field, value)
        fields = list(changes)
        if changes.get("is_active") and not before["is_active"]:
            # On again, as endpoint_enable does: the failures are counted from zero.
            current.consecutive_failures, current.disabled_at, current.disabled_reason = 0, None, ""
            fields += ["consecutive_failures", "disabled_at", "disabled_reason"]
        after = _audited(current)
        if after != before:
            current.save(update_fields=fields)
            audit_record(
                action=Action.WEBHOOK_CHANGED,
                actor=actor,
                obj=current,
                before=before,
                after=after,
            )
    return current


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
