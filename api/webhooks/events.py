"""Which audit events become webhook events, and the JSON each carries."""

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from api.models import WebhookDelivery, WebhookEndpoint
from tenants.models import AuditEvent, Tenant

A = AuditEvent.Action
# The tenant's life as receivers hear it; named as in the audit trail.
EVENT_TYPES = [
    A.TENANT_REQUESTED,
    A.TENANT_APPROVED,
    A.TENANT_REJECTED,
    A.TENANT_READY,
    A.TENANT_FAILED,
    A.TENANT_SUSPENDED,
    A.TENANT_RESUMED,
    A.TENANT_DELETED,
    A.TENANT_PLAN_CHANGED,
    A.TENANT_BACKED_UP,
    A.TENANT_BACKUP_FAILED,
    A.TENANT_RESTORED,
    A.TENANT_CLONE_REQUESTED,
    A.TENANT_CLONED,
    A.TENANT_CLONE_FAILED,
    A.TENANT_PROMOTE_REQUESTED,
    A.TENANT_PROMOTED,
    A.TENANT_PROMOTE_FAILED,
]
EVENT_TYPES = [str(e) for e in EVENT_TYPES]
# Told of a clone, yet also news of its original (whose owner asked for the copy): endpoints of
# the original hear them as well, since a new clone has none of its own.
CLONE_EVENTS = {str(A.TENANT_CLONE_REQUESTED), str(A.TENANT_CLONED), str(A.TENANT_CLONE_FAILED)}


def payload(event: AuditEvent, tenant: Tenant) -> dict:
    return {
        "type": event.action,
        "timestamp": event.created_at.isoformat(),
        "data": {
            "tenant": {
                "id": tenant.pk,
                "slug": tenant.slug,
                "state": tenant.state,
                "url": settings.PORTAL_URL + tenant.get_absolute_url(),
                "clone_of": tenant.clone_of.slug if tenant.clone_of_id else None,
            },
            "actor": event.actor_name,
            "message": event.message,
            "audit_event_id": event.pk,
            "request_id": event.request_id,
        },
    }


def deliveries_for(event: AuditEvent) -> list[WebhookDelivery]:
    """Queue the event for every active endpoint that asked for it, once the event commits."""
    if event.action not in EVENT_TYPES or event.object_type != "tenant":
        return []
    tenants = Tenant.objects.select_related("clone_of").filter(pk=event.object_id)
    scope = Q(tenant__isnull=True) | Q(tenant_id=event.object_id)
    tenant = None
    if event.action in CLONE_EVENTS:
        tenant = tenants.first()
        if tenant is None:
            return []
        if tenant.clone_of_id is not None:
            scope |= Q(tenant_id=tenant.clone_of_id)
    # The event list is matched here rather than by a JSON `contains` lookup, which SQLite (the
    # embedded portal's database) doesn't have; a tenant has few endpoints. The tenant is read
    # (for any but a clone's events) only when one asked for the event: most events of most
    # tenants cost one query, not two.
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(scope, is_active=True)
        if event.action in (endpoint.events or [])
    ]
    if not endpoints:
        return []
    tenant = tenant or tenants.first()
    if tenant is None:
        return []
    body = payload(event, tenant)
    created = [
        WebhookDelivery.objects.create(
            endpoint=endpoint,
            message_id=f"msg_{event.pk}_{endpoint.pk}",
            event_type=event.action,
            payload=body,
        )
        for endpoint in endpoints
    ]
    if created:
        from api.tasks import webhook_deliver

        ids = [d.pk for d in created]
        transaction.on_commit(lambda: [webhook_deliver.delay(pk) for pk in ids])
    return created


def on_audit_event(sender, instance: AuditEvent, created: bool, **_):
    if created:
        deliveries_for(instance)
