"""Telling the platform admins that an endpoint was disabled: once per disabling, by a worker."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q

from api.models import WebhookEndpoint
from portal.roles import APPROVER_GROUP
from tenants.models import AuditEvent, MailSent
from tenants.notifications import MailNotSent

log = logging.getLogger(__name__)


def notify_disabled(event_id: int) -> None:
    """The mail of the audit event that disabled the endpoint; MailNotSent when the server
    didn't take it (api.tasks.webhook_disabled_mail tries again), nothing when it already went."""
    event = AuditEvent.objects.get(pk=event_id, action=AuditEvent.Action.WEBHOOK_DISABLED)
    endpoint = WebhookEndpoint.objects.select_related("created_by").get(pk=int(event.object_id))
    admins = get_user_model().objects.filter(
        Q(groups__name=APPROVER_GROUP) | Q(is_superuser=True), is_active=True
    )
    recipients = set(admins.values_list("email", flat=True))
    if endpoint.created_by is not None:
        recipients.add(endpoint.created_by.email)
    recipients.discard("")
    if not recipients:
        return
    body = (
        f"The portal stopped sending events to {endpoint.url}: {endpoint.disabled_reason}\n\n"
        f"Fix the receiver, then enable the endpoint again in the admin:\n"
        f"{settings.PORTAL_URL}/admin/api/webhookendpoint/{endpoint.pk}/change/\n"
    )
    with transaction.atomic():  # a send that fails takes its mark back with it
        _, created = MailSent.objects.get_or_create(event_id=event.pk, kind="webhook_disabled")
        if not created:
            return
        try:
            send_mail(
                "Webhook endpoint disabled", body, settings.DEFAULT_FROM_EMAIL, sorted(recipients)
            )
        except Exception as exc:
            log.warning("could not send the webhook-disabled mail for endpoint %s", endpoint.pk)
            raise MailNotSent(f"the webhook-disabled mail for endpoint {endpoint.pk}") from exc
