"""Telling the platform admins that an endpoint was disabled."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db.models import Q

from api.models import WebhookEndpoint
from portal.roles import APPROVER_GROUP

log = logging.getLogger(__name__)


def notify_disabled(endpoint_id: int) -> None:
    endpoint = WebhookEndpoint.objects.select_related("created_by").get(pk=endpoint_id)
    admins = get_user_model().objects.filter(
        Q(groups__name=APPROVER_GROUP) | Q(is_superuser=True), is_active=True
    )
    recipients = set(admins.values_list("email", flat=True))
    if endpoint.created_by is not None:
        recipients.add(endpoint.created_by.email)
    recipients.discard("")
    log.warning("webhook endpoint %s disabled: %s", endpoint.pk, endpoint.disabled_reason)
    if not recipients:
        return
    body = (
        f"The portal stopped sending events to {endpoint.url}: {endpoint.disabled_reason}\n\n"
        f"Fix the receiver, then enable the endpoint again in the admin:\n"
        f"{settings.PORTAL_URL}/admin/api/webhookendpoint/{endpoint.pk}/change/\n"
    )
    try:
        send_mail(
            "Webhook endpoint disabled", body, settings.DEFAULT_FROM_EMAIL, sorted(recipients)
        )
    except Exception:
        log.exception("could not send the webhook-disabled mail for endpoint %s", endpoint.pk)
