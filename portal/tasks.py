"""The portal's own Celery tasks: the workers' heartbeat, account mails."""

from celery import Task, shared_task

from portal import accountmail
from portal import heartbeat as heartbeats
from tenants.tasks import MAIL_RETRIES


@shared_task(ignore_result=True)
def heartbeat() -> None:
    """Beat, every PORTAL_HEARTBEAT_INTERVAL seconds, run by a provisioning worker."""
    heartbeats.beat()


class _Unlogged(Task):
    """A task whose arguments Celery never writes to a log or an event, on its retries too
    (retry sends the message again through apply_async): they carry a password-reset link."""

    def apply_async(self, args=None, kwargs=None, **options):
        options["argsrepr"], options["kwargsrepr"] = "(an account mail)", "{}"
        return super().apply_async(args, kwargs, **options)


@shared_task(base=_Unlogged, **MAIL_RETRIES)
def send_account_mail(fields: dict, key: str | None = None) -> None:
    """An allauth mail a page rendered (portal.accountmail), sent with the SMTP timeout, once
    per key (messages queued before keys were drawn have none)."""
    accountmail.send(fields, key)
