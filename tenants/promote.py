"""Promoting a clone: its content replaces its original's, after a backup of the original."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.template.defaultfilters import pluralize

from portal import roles
from portal.errors import ApplicationError
from tenants import backups, clone, restores
from tenants.audit import audit_record
from tenants.confirmation import confirmation_problem
from tenants.models import AuditEvent, Backup, Tenant
from tenants.suspension import refuse

Action = AuditEvent.Action


def _check(staging: Tenant, original: Tenant | None, actor) -> Tenant:
    if original is None:
        raise ApplicationError("Only a clone can be promoted, and this tenant is no clone.")
    if actor is not None and not roles.is_approver(actor) and original.owner_id != actor.pk:
        raise refuse(
            tenant=original,
            actor=actor,
            what="promote",
            why="Only the owner or a platform admin can promote a clone.",
        )
    for site, what in ((staging, "clone"), (original, "original")):
        if site.state != Tenant.State.READY or not site.desired_present:
            raise ApplicationError(
                f"Both sites must be ready to promote; the {what} {site.slug} is "
                f"“{site.state_label}”."
            )
        if site.restoring:
            raise ApplicationError(f"{site.slug} is being restored or filled; wait for it.")
    if staging.cloned_at is None:
        raise ApplicationError(f"{staging.slug} never got {original.slug}'s content; clone again.")
    if original.delete_after is not None:
        raise ApplicationError(f"{original.slug} is to be deleted; cancel its deletion first.")
    if staging.wordpress_version != original.wordpress_version:
        raise ApplicationError(
            f"{original.slug} runs WordPress {original.wordpress_version} and {staging.slug} "
            f"{staging.wordpress_version}: bring {original.slug} to "
            f"{staging.wordpress_version} first, then promote."
        )
    if not backups.backups_configured():
        raise ApplicationError("Promoting needs the platform's MariaDB and S3 configured.")
    return original


def tenant_promote(*, tenant: Tenant, actor, confirm_slug: str) -> Tenant:
    """Have a worker put the clone's content (database, media, wp-content) into its original,
    after a backup of each; the original's name typed, as it is the one overwritten."""
    original = _check(tenant, tenant.clone_of, actor)
    problem = confirmation_problem(
        confirm_slug, original.slug, what="the name of the site overwritten"
    )
    if problem:
        raise ValidationError({"confirm_slug": [problem]})
    # Under the restores' lease and resend: a dead worker or a lost message is taken up again.
    note = f"Promoting {tenant.slug}: a backup of it, then one of this site, first."
    with transaction.atomic():
        if not restores.restore_begin(
            original, kind="promote", note=note, actor=actor, source=tenant
        ):
            raise ApplicationError(f"{original.slug} is being restored or filled; wait for it.")
        # Who asked to overwrite production, before any worker touches it.
        audit_record(
            action=Action.TENANT_PROMOTE_REQUESTED,
            actor=actor,
            obj=original,
            after={"staging": tenant.slug},
            message=f"{tenant.slug} to be promoted into {original.slug}.",
        )
    return tenant


def _backup(tenant: Tenant, reason: str) -> Backup:
    item = backups.backup_take(Backup.objects.create(tenant=tenant, reason=reason).pk)
    if item.state != Backup.State.DONE:
        raise ApplicationError(
            f"the backup of {tenant.slug} failed, so nothing changed: {item.error}"
        )
    return item


def promote_run(staging_id: int, actor=None, wakeup: int | None = None) -> str:
    """The worker's part (tenants.restores runs it): a backup of the clone, a safety backup of
    the original, the clone's backup loaded into the original and its links rewritten back;
    the outcome in words on the original's page (written only while `wakeup` is still the
    promote's live message, when given)."""
    staging = Tenant.objects.select_related("plan", "clone_of__plan").get(pk=staging_id)
    original = staging.clone_of
    ours = Tenant.objects.filter(pk=original.pk, restoring=True)
    if wakeup is not None:
        ours = ours.filter(restore_wakeup=wakeup)

    def say(text: str) -> None:
        ours.update(restore_note=f"Promoting {staging.slug}: {text}."[:2000])

    try:
        item = _backup(staging, "for promote")
        say(f"its backup of {item.created_at:%Y-%m-%d %H:%M} taken, now one of this site")
        # Taken once: a worker taking up a promote a dead one began (the message comes back,
        # acks late) reuses it, as the original may be half-overwritten by now.
        safety = backups.safety_backup(original, "before promote")
        if safety.state != Backup.State.DONE:
            raise ApplicationError(
                f"the backup of {original.slug} failed, so nothing changed: {safety.error}"
            )
        try:
            backups.backup_load(original, item, say=say)
            say("rewriting its links")
            changed = clone.rewrite_content(original, staging)
        except ApplicationError as exc:
            raise ApplicationError(f"{exc.message}; the site as it was is in {safety}") from exc
    except ApplicationError as exc:
        note = f"Promoting {staging.slug} failed: {exc.message}"
        audit_record(action=Action.TENANT_PROMOTE_FAILED, actor=actor, obj=original, message=note)
    else:
        note = (
            f"Promoted {staging.slug}: this site is its backup of {item} now ({changed} "
            f"value{pluralize(changed)} name{pluralize(changed, 's,')} {original.host}); the site "
            f"as it was is in the backup {safety}."
        )
        audit_record(
            action=Action.TENANT_PROMOTED,
            actor=actor,
            obj=original,
            after={"staging": staging.slug, "backup": item.prefix, "safety_backup": safety.prefix},
        )
    ours.update(restoring=False, restore_note=note[:2000], restore_from=None, restore_sent_at=None)
    return note
