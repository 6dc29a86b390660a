"""Account mails (password reset, e-mail confirmation): a page renders them, a worker sends them."""

import logging

from django.core.mail import EmailMultiAlternatives
from django.db import transaction

from tenants.notifications import MailNotSent

log = logging.getLogger(__name__)


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

    def hand_over():
        try:
            send_account_mail.delay(fields)
        except Exception:
            # The broker refused even Celery's publish retries: the page still answers.
            log.exception("could not queue an account mail")

    transaction.on_commit(hand_over)


def send(fields: dict) -> None:
    """Send it with the SMTP timeout; MailNotSent (the task tries again) when not taken."""
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
