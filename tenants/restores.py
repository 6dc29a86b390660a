"""A restore, a clone's fill or a promote survives its worker: done under the tenant's lease,
taken up again when it dies."""

import logging
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Now

from provisioning.locks import Heartbeat, holder_name, lease_left, lock_acquire, lock_release
from tenants import backups
from tenants.audit import audit_record
from tenants.models import AuditEvent, Tenant

log = logging.getLogger(__name__)
# Times a worker may begin one restore: one that kills its worker each time (out of memory, the
# time limit) ends, said on the page, instead of going round for ever.
MAX_TRIES = 3
# What each kind is called when it ends unfinished, and the audit record it leaves.
Action = AuditEvent.Action
ENDED = {
    "restore": ("The restore", Action.TENANT_BACKUP_FAILED),
    "fill": ("Copying the original's content into this clone", Action.TENANT_CLONE_FAILED),
    "promote": ("The promote into this site", Action.TENANT_PROMOTE_FAILED),
}


def restore_begin(
    tenant: Tenant, *, kind: str, note: str, actor=None, backup=None, source=None, **only
) -> bool:
    """Mark the tenant as overwritten by a worker (a restore of `backup`, a clone's fill, a
    promote of `source` into it) and send the worker its numbered message once committed.
    False when another is under way (or `only`, further conditions, doesn't hold)."""
    won = Tenant.objects.filter(pk=tenant.pk, restoring=False, **only).update(
        restoring=True,
        restore_note=note[:2000],
        restore_kind=kind,
        restore_backup=backup,
        restore_from=source,
        restore_by=actor if getattr(actor, "is_authenticated", False) else None,
        restore_safety=None,
        restore_tries=0,
        restore_wakeup=F("restore_wakeup") + 1,
        restore_sent_at=Now(),
    )
    if not won:
        return False
    wakeup = Tenant.objects.values_list("restore_wakeup", flat=True).get(pk=tenant.pk)
    transaction.on_commit(lambda: restore_send(tenant.pk, wakeup))
    return True


def restore_send(tenant_id: int, wakeup: int, countdown: float = 0.0) -> None:
    from tenants.tasks import WORKERS_LIMITS, restore_tenant

    restore_tenant.apply_async((tenant_id, wakeup), countdown=countdown or None, **WORKERS_LIMITS)


def _live(tenant_id: int, wakeup: int):
    return Tenant.objects.filter(pk=tenant_id, restoring=True, restore_wakeup=wakeup)


def restore_run(tenant_id: int, wakeup: int) -> str | None:
    """The worker's part, under the tenant's lease (no reconcile touches the site meanwhile,
    and the sweep sees the restore alive while its heartbeat renews the lease). None when this
    message is not the restore's live one, or the restore has to wait for the lease."""
    if not _live(tenant_id, wakeup).exists():
        return None  # done, or a newer copy was sent
    holder = "restore:" + holder_name()
    if not lock_acquire(tenant_id=tenant_id, holder=holder):
        # A reconcile (or this restore's first worker, alive after all) holds the tenant: look
        # again once its lease would run out; the holder renewing it only delays this.
        countdown = lease_left(tenant_id) + 0.5
        _live(tenant_id, wakeup).update(restore_sent_at=Now() + timedelta(seconds=countdown))
        restore_send(tenant_id, wakeup, countdown)
        return None
    try:
        # Counted as begun before anything is done, so a restore that kills its worker is seen.
        if not _live(tenant_id, wakeup).update(restore_tries=F("restore_tries") + 1):
            return None
        tenant = Tenant.objects.select_related("restore_backup", "restore_by").get(pk=tenant_id)
        if tenant.restore_kind == "restore" and tenant.restore_backup is None:
            return _give_up(tenant, wakeup, "its backup was removed meanwhile")
        if tenant.restore_kind == "promote" and tenant.restore_from_id is None:
            return _give_up(tenant, wakeup, "the clone was deleted meanwhile")
        if tenant.restore_tries > MAX_TRIES:
            return _give_up(
                tenant, wakeup, f"its worker stopped {MAX_TRIES} times before it finished"
            )
        if tenant.restore_tries > 1:
            log.warning("tenant %s: taking up a %s a worker left", tenant.slug, tenant.restore_kind)
        with Heartbeat(tenant_id=tenant_id, holder=holder):
            try:
                return _work(tenant, wakeup)
            except SoftTimeLimitExceeded:
                # It would run past the limit again: ended, not taken up by another worker.
                tenant.refresh_from_db(fields=["restore_safety"])
                return _give_up(tenant, wakeup, backups.past_time_limit())
    finally:
        lock_release(tenant_id=tenant_id, holder=holder)


def clone_again() -> str:
    return "The clone is an empty site; “Copy again” on its page tries again."


def _work(tenant: Tenant, wakeup: int) -> str:
    # Imported here: a clone's fill and a promote start through this module.
    from tenants import clone, promote

    if tenant.restore_kind == "fill":
        return clone.clone_fill(tenant.pk, wakeup=wakeup)
    if tenant.restore_kind == "promote":
        return promote.promote_run(tenant.restore_from_id, actor=tenant.restore_by, wakeup=wakeup)
    return backups.backup_restore(
        backup_id=tenant.restore_backup.pk, actor=tenant.restore_by, wakeup=wakeup
    )


def _give_up(tenant: Tenant, wakeup: int, why: str) -> str:
    what, action = ENDED[tenant.restore_kind]
    note = f"{what} didn't finish: {why}. "
    if tenant.restore_safety is not None:
        note += f"The site as it was before is in the safety backup {tenant.restore_safety}."
    elif tenant.restore_kind == "fill":
        note += clone_again()
    else:
        note += "Nothing was overwritten."
    audit_record(
        action=action,
        actor=tenant.restore_by,
        obj=tenant,
        message=note,
    )
    _live(tenant.pk, wakeup).update(
        restoring=False, restore_note=note[:2000], restore_backup=None, restore_sent_at=None
    )
    return note


def restores_resume() -> list[int]:
    """Beat: send a restore again whose message no worker holds (nobody holds the tenant's lease)
    a grace period after it was sent: the broker lost it, or the hard time limit or a crash ended
    the worker doing it and its message went with it. The new number makes a late copy of the
    old message drop itself. Returns the tenants whose restore was sent again."""
    grace = timedelta(seconds=settings.PORTAL_MESSAGE_GRACE)
    unlocked = Q(lock_holder="") | Q(lock_expires_at__lt=Now())
    resent = []
    lost = Tenant.objects.filter(restoring=True, restore_sent_at__lt=Now() - grace).filter(unlocked)
    for tenant_id, wakeup in lost.values_list("pk", "restore_wakeup"):
        # The lease condition again in the write: a worker that took the restore up just now
        # holds it, and keeps its message.
        bumped = (
            Tenant.objects.filter(pk=tenant_id, restoring=True, restore_wakeup=wakeup)
            .filter(unlocked)
            .update(restore_wakeup=wakeup + 1, restore_sent_at=Now())
        )
        if bumped:
            log.warning("tenant %s: its restore's message was lost; sent again", tenant_id)
            restore_send(tenant_id, wakeup + 1)
            resent.append(tenant_id)
    return resent
