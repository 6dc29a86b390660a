"""Celery tasks of the API app: webhook deliveries and the mail of a disabled endpoint, retried."""

from celery import shared_task
from django.conf import settings

from api.webhooks import delivery, notify
from tenants.tasks import MAIL_RETRIES


@shared_task(bind=True, ignore_result=True, max_retries=None)
def webhook_deliver(self, delivery_id: int) -> None:
    if delivery.attempt(delivery_id):
        return
    if self.request.retries + 1 >= settings.PORTAL_WEBHOOK_ATTEMPTS:
        delivery.give_up(delivery_id)
        return
    countdown = settings.PORTAL_WEBHOOK_RETRY_BASE * 2**self.request.retries
    raise self.retry(countdown=countdown)


@shared_task(**MAIL_RETRIES)
def webhook_disabled_mail(event_id: int) -> None:
    """The admins told that an endpoint was disabled, with the SMTP timeout; once per event."""
    notify.notify_disabled(event_id)
