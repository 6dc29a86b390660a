"""Account mails (password reset, e-mail confirmation): a page renders them, a worker sends them."""

import logging
import uuid
from datetime import timedelta

from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.utils import timezone

from portal.models import AccountMailSent
from tenants.notifications import MailNotSent

log = logging.getLogger(__name__)

# How long a sent mail's key is kept: far past the task's last retry (tenants.tasks.MAIL_RETRIES,
# hours) and the broker's redelivery of an unacknowledged message (Redis: an hour by default).
KEPT = timedelta(days=7)


def queue(message) -> None:
    """Hand allauth's rendered message to a worker once the request's changes are committed."""
    from portal.tasks import send_account_mail

    fields = {
        "subject": message.subject,
        "body": message.body,
        "from_email": message.from_email,
        "to": list(message.to),
        "headers": dict(message.extra_headers),
        "subtype": message.content_subtype,
        "alternatives": [[a[0], a[1]] for a in getattr(message, "alternatives", [])],
    }

    # One key per queued mail, recorded when it is sent: a worker that dies after sending it,
    # before the broker has the task's acknowledgement (acks_late), sends it once, not twice.
    key = str(uuid.uuid4())

    def hand_over():
        try:
            send_account_mail.delay(fields, key)
        except Exception:
            # The broker refused even Celery's publish retries: the page still answers.
            log.exception("could not queue an account mail")

    transaction.on_commit(hand_over)


def send(fields: dict, key: str | None) -> None:
    """Send it unless its key says it went already; MailNotSent (the task tries again) when the
    server doesn't take it. The key is written in the transaction that sends, and committed once
    the server took the mail: a second worker given the same message waits for that commit and
    then finds it. (A message queued before keys were drawn has none: it is simply sent.)"""
    if key is None:
        _deliver(fields)
        return
    # MailNotSent leaves the block and so rolls the key back: the retry sends the mail.
    with transaction.atomic():
        _, created = AccountMailSent.objects.get_or_create(key=key)
        if not created:
            log.info("account mail %s was sent already: not sent again", key)
            return
        _deliver(fields)
    AccountMailSent.objects.filter(sent_at__lt=timezone.now() - KEPT).delete()


def _deliver(fields: dict) -> None:
    """Send it with the SMTP timeout; MailNotSent when not taken."""
    message = EmailMultiAlternatives(
        fields["subject"],
        fields["body"],
        fields["from_email"],
        fields["to"],
        headers=fields["headers"],
    )
    message.content_subtype = fields["subtype"]
    for content, mimetype in fields["alternatives"]:
        message.attach_alternative(content, mimetype)
    try:
        message.send()
    except Exception as exc:
        # The error's class only: what the server said may quote the message, and its link.
        log.warning("an account mail was not taken by the mail server (%s)", type(exc).__name__)
        raise MailNotSent("an account mail") from None
