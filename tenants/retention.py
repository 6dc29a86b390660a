"""Backups past their plan's retention removed, objects and rows, deleted tenants' ones too."""

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from portal.errors import ApplicationError
from provisioning.errors import StepFailed, TransientError
from tenants import backups
from tenants.audit import audit_record
from tenants.models import AuditEvent, Backup, Tenant

log = logging.getLogger(__name__)
Action = AuditEvent.Action


def backups_expire() -> int:
    """Beat, with the schedule: every backup older than its tenant's plan keeps goes, except a
    live tenant's newest good one (its only way back). A deleted tenant keeps none: its final
    backup goes once the retention has passed since the deletion, and then nothing of it is
    left in S3. Returns how many went."""
    if not backups.backups_configured():
        return 0
    # A restore under way reads its backup: it stays until the restore is over (a recreation
    # whose build failed and that was deleted again waits for nothing any more).
    in_use = Tenant.objects.filter(restoring=True, restore_backup__isnull=False).exclude(
        state=Tenant.State.DELETED
    )
    in_use = in_use.values_list("restore_backup", flat=True)
    holding = Tenant.objects.select_related("plan").filter(backups__isnull=False).distinct()
    expired = 0
    for tenant in holding:
        cutoff = timezone.now() - timedelta(days=tenant.plan.backup_retention_days)
        old = tenant.backups.filter(created_at__lt=cutoff).exclude(
            Q(state=Backup.State.RUNNING) | Q(pk__in=list(in_use))
        )
        if tenant.state != Tenant.State.DELETED:
            keep = backups.last_good_backup(tenant)
            old = old.exclude(pk=keep.pk if keep else None)
        expired += _remove(tenant, list(old))
    return expired


def _remove(tenant: Tenant, old: list[Backup]) -> int:
    if not old:
        return 0
    try:
        store = backups.backup_store(tenant)
    except ApplicationError as exc:
        log.warning("backups of %s not expired yet: %s", tenant.slug, exc.message)
        return 0
    removed = 0
    for item in old:
        prefix = backups.backup_prefix_of(item)
        try:
            objects = store.prefix_delete(prefix)
        except (StepFailed, TransientError) as exc:
            log.warning("backup %s of %s not expired yet: %s", item.pk, tenant.slug, exc)
            continue
        # Auditors ask which backup went and why: one event each, naming it (read before the
        # row goes, which takes its id along).
        before = _described(item, prefix, objects)
        message = (
            f"The backup of {item} ({item.get_state_display().lower()}) was removed: "
            f"{_why(tenant)}."
        )
        with transaction.atomic():
            item.delete()
            audit_record(
                action=Action.TENANT_BACKUP_EXPIRED, obj=tenant, before=before, message=message
            )
        removed += 1
    log.info("%s: %d backup(s) past retention removed", tenant.slug, removed)
    return removed


def _why(tenant: Tenant) -> str:
    days = tenant.plan.backup_retention_days
    if tenant.state == Tenant.State.DELETED:
        return (
            f"the tenant was deleted and the {tenant.plan.name} plan's {days} days of retention "
            "have passed"
        )
    return f"older than the {tenant.plan.name} plan's {days} days of retention"


def _described(item: Backup, prefix: str, objects: int) -> dict:
    return {
        "backup": item.pk,
        "taken": item.created_at.isoformat(),
        "state": item.state,
        "reason": item.reason,
        "size_bytes": item.size_bytes,
        "prefix": prefix,
        "objects_removed": objects,
    }
