"""Upgrading a tenant's WordPress to another offered version, rolled back when it fails."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal import roles
from portal.errors import ApplicationError
from provisioning import runs
from tenants import backups, validation
from tenants.audit import audit_record
from tenants.models import AuditEvent, Backup, Tenant
from tenants.suspension import SETTLED, refuse

Action = AuditEvent.Action
UPGRADE, ROLLBACK = "upgrade", "rollback"
DATABASE_BACK = "The database is being put back as it was before the upgrade."


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def versions_above(version: str) -> list[str]:
    """The offered versions a site on `version` may upgrade to."""
    return [
        v for v in settings.PORTAL_WORDPRESS_VERSIONS if _version_key(v) > _version_key(version)
    ]


def tenant_upgrade(*, tenant: Tenant, actor, version: str) -> Tenant:
    """Move the site to the offered version: a backup first (where backups are configured),
    then a run rolls the Deployment to its image; if the new pods never become ready, the run
    fails and the old image and the database as backed up come back."""
    admin = actor is None or roles.is_approver(actor)
    if not admin and tenant.owner_id != actor.pk:
        raise refuse(
            tenant=tenant,
            actor=actor,
            what="upgrade",
            why="Only the owner or a platform admin can upgrade a tenant's WordPress.",
        )
    if tenant.state != Tenant.State.READY or not tenant.desired_present:
        raise ApplicationError(
            f"Only a ready tenant can be upgraded; this one is “{tenant.state_label}”."
        )
    if tenant.upgrade_to:
        raise ApplicationError(
            f"An upgrade to WordPress {tenant.upgrade_to} is starting (its backup is being "
            "taken); wait for it."
        )
    if tenant.is_suspended or tenant.delete_after is not None:
        raise ApplicationError(
            "A suspended tenant runs no pods to prove the new version; resume it first."
        )
    try:
        validation.validate_wordpress_version(version)
    except ValidationError as exc:
        raise refuse(tenant=tenant, actor=actor, what="upgrade", why=exc.messages[0]) from exc
    if version == tenant.wordpress_version:
        raise ValidationError({"version": [f"{tenant.slug} already runs WordPress {version}."]})
    if _version_key(version) < _version_key(tenant.wordpress_version):
        # An upgrade updates the database schema; older code on it is not supported.
        raise ValidationError(
            {"version": [f"WordPress can't go back from {tenant.wordpress_version} to {version}."]}
        )
    with transaction.atomic():
        audit_record(
            action=Action.TENANT_UPGRADE_REQUESTED,
            actor=actor,
            obj=tenant,
            before={"wordpress_version": tenant.wordpress_version},
            after={"wordpress_version": version},
        )
        if not backups.backups_configured():
            # Plan mode: nothing to back up, so the rollout starts at once.
            return _start(tenant=tenant, version=version, backup=None, actor=actor)
        # A backup first; the rollout starts once it is safe (upgrade_start, on a worker).
        item = Backup.objects.create(tenant=tenant, reason="before upgrade")
        Tenant.objects.filter(pk=tenant.pk).update(upgrade_to=version, upgrade_note="")
        from tenants.tasks import WORKERS_LIMITS, start_upgrade

        transaction.on_commit(lambda: start_upgrade.apply_async((item.pk,), **WORKERS_LIMITS))
    tenant.refresh_from_db()
    return tenant


def _start(*, tenant: Tenant, version: str, backup: Backup | None, actor=None) -> Tenant:
    won = Tenant.objects.filter(
        pk=tenant.pk, state__in=SETTLED, wordpress_version=tenant.wordpress_version
    ).update(
        wordpress_version=version,
        upgrade_from=tenant.wordpress_version,
        upgrade_to="",
        upgrade_backup=backup,
        upgrade_note="",
        updated_at=timezone.now(),
    )
    if not won:
        raise ApplicationError("This tenant changed a moment ago; reload the page.")
    tenant.refresh_from_db()
    runs.run_request(tenant=tenant, action=runs.APPLY, reason=UPGRADE, actor=actor)
    return tenant


def upgrade_start(backup_id: int) -> Tenant:
    """Take the pre-upgrade backup, then start the rollout; a failed backup stops it, said."""
    item = backups.backup_take(backup_id)
    tenant = Tenant.objects.get(pk=item.tenant_id)
    version = tenant.upgrade_to
    if not version:
        return tenant  # called off meanwhile
    if item.state != Backup.State.DONE:
        note = f"The upgrade to WordPress {version} didn't start: the backup before it failed."
        Tenant.objects.filter(pk=tenant.pk).update(upgrade_to="", upgrade_note=note)
        tenant.refresh_from_db()
        return tenant
    try:
        with transaction.atomic():
            return _start(tenant=tenant, version=version, backup=item)
    except ApplicationError as exc:
        note = f"The upgrade to WordPress {version} didn't start: {exc.message}"
        Tenant.objects.filter(pk=tenant.pk).update(upgrade_to="", upgrade_note=note)
        tenant.refresh_from_db()
        return tenant


def after_failed_run(run, cause: str) -> None:
    """Called by the engine, in its transaction, when a run failed: an upgrade's failure puts
    the previous version back and queues the run that rolls the site back to it."""
    if run.reason != UPGRADE:
        return
    tenant = Tenant.objects.filter(pk=run.tenant_id).exclude(upgrade_from="").first()
    if tenant is None or not tenant.desired_present:
        return
    failed, back = tenant.wordpress_version, tenant.upgrade_from
    note = f"The upgrade to WordPress {failed} failed and was rolled back to {back}: {cause}"
    backup_id = tenant.upgrade_backup_id
    if backup_id:
        note += " " + DATABASE_BACK
        from tenants.tasks import WORKERS_LIMITS, restore_upgrade_database

        transaction.on_commit(
            lambda: restore_upgrade_database.apply_async((backup_id,), **WORKERS_LIMITS)
        )
    Tenant.objects.filter(pk=tenant.pk).update(
        wordpress_version=back, upgrade_from="", upgrade_backup=None, upgrade_note=note[:2000]
    )
    tenant.refresh_from_db()
    runs.run_request(tenant=tenant, action=runs.APPLY, reason=ROLLBACK)
    audit_record(
        action=Action.TENANT_UPGRADE_ROLLED_BACK,
        obj=tenant,
        before={"wordpress_version": failed},
        after={"wordpress_version": back},
        message=note,
    )


def upgrade_database_restore(backup_id: int) -> Tenant:
    """Put the database back as the pre-upgrade backup has it, and say how that went."""
    item = Backup.objects.select_related("tenant").get(pk=backup_id)
    try:
        backups.backup_restore_database(item)
    except ApplicationError as exc:
        outcome = f"The database could not be put back: {exc.message}"
    else:
        outcome = f"The database was put back as it was before (backup of {item})."
    tenant = item.tenant
    note = tenant.upgrade_note.replace(DATABASE_BACK, outcome)
    Tenant.objects.filter(pk=tenant.pk).update(upgrade_note=note[:2000])
    tenant.refresh_from_db()
    return tenant
