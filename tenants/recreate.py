"""A deleted tenant recreated from its final backup: built again by the engine, then restored."""

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Now

from portal import roles
from portal.errors import ApplicationError
from provisioning import runs
from tenants import backups
from tenants.audit import audit_record
from tenants.models import AuditEvent, Backup, Tenant
from tenants.states import tenant_transition
from tenants.suspension import refuse

Action = AuditEvent.Action
WAITING = "Recreating from the backup of {backup}: the site is built again first, then restored."


def recreate_backup(tenant: Tenant) -> Backup | None:
    """What a deleted tenant would come back from: its newest good backup (the final one), kept
    until its plan's retention has passed (tenants.retention)."""
    return backups.last_good_backup(tenant)


def _check(tenant: Tenant, actor) -> Backup:
    def no(why: str) -> ApplicationError:
        return refuse(tenant=tenant, actor=actor, what="recreate", why=why)

    if actor is not None and not roles.is_approver(actor):
        raise no("Only a platform admin can recreate a deleted tenant.")
    if tenant.state != Tenant.State.DELETED or tenant.is_withdrawn:
        raise no(f"Only a deleted tenant can be recreated; this one is “{tenant.state_label}”.")
    item = recreate_backup(tenant)
    if item is None:
        raise no(
            "No backup of this tenant is left (its plan keeps them "
            f"{tenant.plan.backup_retention_days} days), so it can't be recreated."
        )
    if not backups.backups_configured():
        raise ApplicationError("Recreating needs the platform's MariaDB and S3 configured.")
    live = Tenant.objects.exclude(pk=tenant.pk).filter(state__in=Tenant.LIVE_STATES)
    taken = live.filter(Q(slug__iexact=tenant.slug) | Q(host__iexact=tenant.host))
    holder = taken.first()
    if holder is not None:
        raise no(
            f"The name or host of this tenant is in use by {holder.slug} now; "
            "it can't be recreated while that tenant exists."
        )
    return item


def tenant_recreate(*, tenant: Tenant, actor) -> Backup:
    """Bring a deleted tenant back as it was in its final backup: the engine builds it again
    (a new run, as an approval starts), and once it is ready the restore service loads the
    backup into it (after_ready). Returns the backup it comes back from."""
    item = _check(tenant, actor)
    person = actor if getattr(actor, "is_authenticated", False) else None
    try:
        with transaction.atomic():
            won = tenant_transition(
                tenant_id=tenant.pk,
                to=Tenant.State.APPROVED,
                only_from=[Tenant.State.DELETED],
                desired_present=True,
                delete_after=None,
                deletion_suspended=False,
                suspended_at=None,
                suspended_by=None,
                suspension_reason="",
                last_error="",
                # The restore waits for the build: no message is sent (restore_sent_at None)
                # until the engine has it ready.
                restoring=True,
                restore_kind="restore",
                restore_from=None,
                restore_note=WAITING.format(backup=item),
                restore_backup=item,
                restore_by=person,
                restore_safety=None,
                restore_tries=0,
                restore_sent_at=None,
            )
            if not won:
                raise ApplicationError("This tenant changed a moment ago; reload the page.")
            tenant.refresh_from_db()
            runs.run_request(tenant=tenant, action=runs.APPLY, reason="recreate", actor=actor)
            audit_record(
                action=Action.TENANT_RECREATED,
                actor=actor,
                obj=tenant,
                before={"state": Tenant.State.DELETED},
                after={"state": tenant.state, "backup": item.prefix},
            )
    except IntegrityError as exc:
        raise ApplicationError(
            "The name or host of this tenant was taken a moment ago; it can't be recreated."
        ) from exc
    return item


def after_ready(tenant: Tenant) -> None:
    """Called by the engine, in its transaction, when a tenant became ready: a recreated one
    has its backup restored now (tenants.restores, under the tenant's lease)."""
    if tenant.restore_backup_id is None:
        return  # as the engine read it this pass: a recreation sets it before its run starts
    waiting = Tenant.objects.filter(
        pk=tenant.pk, restoring=True, restore_backup__isnull=False, restore_sent_at__isnull=True
    )
    won = waiting.update(
        restore_wakeup=F("restore_wakeup") + 1,
        restore_sent_at=Now(),
        restore_note="Recreating: the site is built; restoring its backup (a safety backup first).",
    )
    if won:
        from tenants.restores import restore_send

        wakeup = Tenant.objects.values_list("restore_wakeup", flat=True).get(pk=tenant.pk)
        transaction.on_commit(lambda: restore_send(tenant.pk, wakeup))
