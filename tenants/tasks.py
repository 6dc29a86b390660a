"""Celery tasks of the tenants app: thin wrappers around the services and notifications."""

import logging

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist

from tenants import (
    backups,
    customhosts,
    deletion,
    notifications,
    restores,
    retention,
    upgrade,
    usage,
)
from tenants.models import Backup

log = logging.getLogger(__name__)
# A dump, the files Job and a load outlast the engine's short task limits.
LONG = {
    "soft_time_limit": settings.PORTAL_BACKUP_TIME_LIMIT,
    "time_limit": settings.PORTAL_BACKUP_TIME_LIMIT + 60,
}
# Sent with these, a message carries no time limits: Celery would otherwise bake in the
# sender's, and the worker's own must rule (as provisioning.runs.send does).
WORKERS_LIMITS = {"time_limit": None, "soft_time_limit": None}


@shared_task(ignore_result=True)
def purge_due_deletions() -> None:
    """Beat: a worker's purge for each tenant whose deletion is due (the grace period over, or
    one not done yet): a final backup outlasts this task's time limits, and one site's backup
    must not hold up the others'."""
    for tenant in deletion.tenants_due_for_purge():
        purge_tenant.apply_async((tenant.pk,), **WORKERS_LIMITS)


@shared_task(acks_late=True, ignore_result=True, **LONG)
def purge_tenant(tenant_id: int) -> None:
    """A deletion that is due: the final backup, then the teardown; one not done is the beat's
    again."""
    tenant = deletion.tenants_due_for_purge(tenant_id)
    if tenant and not deletion.tenant_purge(tenant[0]):
        log.warning("tenant %s not purged yet; the next beat looks again", tenant[0].slug)


@shared_task(ignore_result=True)
def recheck_custom_hosts() -> None:
    """Beat: look again for the DNS TXT proofs of custom hosts still waiting for one."""
    proven = customhosts.hosts_recheck()
    if proven:
        log.info("%d custom host(s) proven by the periodic check", proven)


@shared_task(ignore_result=True)
def sample_usage() -> None:
    """Beat: sample every ready tenant's use against its quota, for the usage rule."""
    log.info("usage sampled for %d tenant(s)", usage.usage_sample_all())


@shared_task(ignore_result=True)
def remind_approvers() -> None:
    """Beat, hourly: remind approvers of requests waiting PORTAL_REMINDER_DAYS or longer."""
    notifications.notify_waiting_requests()


@shared_task(acks_late=True, ignore_result=True, **LONG)
def take_backup(backup_id: int) -> None:
    """Write one backup the portal recorded; it ends done or failed, saying why."""
    backups.backup_take(backup_id)


@shared_task(acks_late=True, ignore_result=True, **LONG)
def prove_backup(backup_id: int) -> None:
    """The test restore of a tenant's newest backup, into a scratch database and prefix."""
    item = Backup.objects.filter(pk=backup_id).first()
    if item is None:  # expired meanwhile: nothing to prove
        return
    if item.verified_at or item.verify_failed_at:
        # Another copy, sent by a later look of the schedule (every few minutes) while this one
        # waited for a worker: the backup was tried meanwhile.
        return
    backups.backup_verify(item)


@shared_task(acks_late=True, ignore_result=True, **LONG)
def start_upgrade(backup_id: int) -> None:
    """The backup before an upgrade, then its rollout."""
    upgrade.upgrade_start(backup_id)


@shared_task(acks_late=True, ignore_result=True, **LONG)
def restore_upgrade_database(backup_id: int) -> None:
    """A failed upgrade's database put back as the backup before it has it."""
    upgrade.upgrade_database_restore(backup_id)


@shared_task(ignore_result=True)
def scheduled_backups() -> None:
    """Beat, hourly: back up the tenants due one, expire what their plan no longer keeps."""
    backups.backups_schedule()
    retention.backups_expire()


@shared_task(acks_late=True, ignore_result=True, **LONG)
def restore_tenant(tenant_id: int, wakeup: int) -> None:
    """A restore asked for on the tenant page (safety backup, then the restore), a clone's fill
    or a promote, or one of them taken up again after its worker died."""
    restores.restore_run(tenant_id, wakeup)


@shared_task(ignore_result=True)
def resume_restores() -> None:
    """Beat, every sweep: send again the restores whose message no worker holds any more."""
    restores.restores_resume()


# How a mail's task tries again while the server is away: 30 s, 60 s, … up to 30 minutes
# (PORTAL_EMAIL_RETRY_DELAY), eight times. Mail tasks elsewhere (api.tasks) use it too.
MAIL_RETRIES = {
    "acks_late": True,
    "ignore_result": True,
    "autoretry_for": (notifications.MailNotSent,),
    "max_retries": 8,
    "retry_backoff": settings.PORTAL_EMAIL_RETRY_DELAY,
    "retry_backoff_max": 1800,
    "retry_jitter": True,
}


@shared_task(**MAIL_RETRIES)
def send_notice(kind: str, *args) -> None:
    """One of the portal's mails (notifications.NOTICES), sent with the SMTP timeout
    (EMAIL_TIMEOUT); each mail goes once per event (MailSent), so a retry sends only what
    didn't go."""
    try:
        notifications.NOTICES[kind](*args, strict=True)
    except ObjectDoesNotExist:
        # Its tenant or comment is gone (purged meanwhile): nobody left to tell of it.
        log.warning("%s mail for %s dropped: its subject no longer exists", kind, args)
