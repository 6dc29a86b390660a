"""One attempt to deliver one event: POST it signed, record the outcome, disable dead ends."""

import json
import logging
import time

import requests
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from api.models import WebhookDelivery, WebhookEndpoint
from api.webhooks import signing
from api.webhooks.addresses import NOT_PUBLIC, NotPublic
from api.webhooks.transport import checked_session
from tenants.audit import audit_record
from tenants.models import AuditEvent

log = logging.getLogger(__name__)


def attempt(delivery_id: int) -> bool:
    """Try once; True when the receiver took it (2xx) or there is nothing left to do."""
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    endpoint = delivery.endpoint
    if delivery.status == WebhookDelivery.Status.DELIVERED or not endpoint.is_active:
        return True
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "tenant-portal-webhooks",
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signing.signature(
            salt=endpoint.salt, message_id=delivery.message_id, timestamp=timestamp, body=body
        ),
    }
    status, error = None, ""
    try:
        # A short timeout and no redirects: a slow or odd receiver only costs this attempt, and
        # a redirect can't lead to an address that was never checked.
        with checked_session() as session:
            response = session.post(
                endpoint.url,
                data=body,
                headers=headers,
                timeout=settings.PORTAL_WEBHOOK_TIMEOUT,
                allow_redirects=False,
            )
        status = response.status_code
        if not 200 <= status < 300:
            error = f"The receiver answered {status}."
    except NotPublic:
        error = NOT_PUBLIC
    except requests.RequestException as exc:
        error = f"Could not reach the receiver ({exc.__class__.__name__})."
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        attempts=F("attempts") + 1,
        last_attempt_at=timezone.now(),
        response_status=status,
        last_error=error,
        **(
            {"status": WebhookDelivery.Status.DELIVERED, "delivered_at": timezone.now()}
            if not error
            else {}
        ),
    )
    if not error:
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
    else:
        log.warning("webhook %s to endpoint %s: %s", delivery.message_id, endpoint.pk, error)
    return not error


def give_up(delivery_id: int) -> None:
    """Retries are spent: the delivery failed; enough such in a row disable the endpoint."""
    delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=WebhookDelivery.Status.FAILED)
    WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).update(
        consecutive_failures=F("consecutive_failures") + 1
    )
    endpoint = WebhookEndpoint.objects.get(pk=delivery.endpoint_id)
    limit = settings.PORTAL_WEBHOOK_DISABLE_AFTER
    if endpoint.is_active and endpoint.consecutive_failures >= limit:
        reason = f"{limit} deliveries in a row failed; the last: {delivery.last_error}"
        log.warning("webhook endpoint %s disabled: %s", endpoint.pk, reason)
        from api.tasks import webhook_disabled_mail

        with transaction.atomic():
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
                is_active=False, disabled_at=timezone.now(), disabled_reason=reason[:300]
            )
            event = audit_record(
                action=AuditEvent.Action.WEBHOOK_DISABLED, obj=endpoint, message=reason
            )
            transaction.on_commit(lambda: webhook_disabled_mail.delay(event.pk))


def resend(delivery: WebhookDelivery) -> None:
    """From the admin: the same event (same webhook-id) again, with fresh retries."""
    from api.tasks import webhook_deliver

    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=WebhookDelivery.Status.PENDING)
    webhook_deliver.delay(delivery.pk)
