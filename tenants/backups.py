"""Backups of a tenant on demand, and restoring one (after a safety backup)."""

import logging
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from portal import roles
from portal.errors import ApplicationError
from provisioning import backup
from provisioning.drivers.kubernetes import make_driver
from provisioning.drivers.mariadb import MariaDB
from provisioning.drivers.objectstore import ObjectStore
from provisioning.errors import StepFailed, TransientError
from provisioning.restoretest import verify_backup
from provisioning.spec import spec_for
from tenants.audit import audit_record
from tenants.backupprogress import BackupProgress
from tenants.models import AuditEvent, Backup, Tenant
from tenants.suspension import refuse

log = logging.getLogger(__name__)
Action = AuditEvent.Action


def check_allowed(tenant: Tenant, actor, verb: str, done: str) -> None:
    """Who may and when: each refusal audited, as an auditor wants to see who tried what."""
    if actor is not None and not roles.is_approver(actor) and tenant.owner_id != actor.pk:
        why = f"Only the owner or a platform admin can {verb} a tenant."
        raise refuse(tenant=tenant, actor=actor, what=verb, why=why)
    if tenant.state != Tenant.State.READY or not tenant.desired_present:
        why = f"Only a ready tenant can be {done}; this one is “{tenant.state_label}”."
        raise refuse(tenant=tenant, actor=actor, what=verb, why=why)


def _targets(tenant: Tenant):
    database, store = MariaDB.from_settings(), ObjectStore.from_settings()
    if database is None or store is None:
        raise ApplicationError("Backups need the platform's MariaDB and S3 configured.")
    store.bucket = spec_for(tenant).s3_bucket  # beside the media, in the tenant's own bucket
    return database.target, store


def backup_store(tenant: Tenant) -> ObjectStore:
    """The object store holding the tenant's backups, pointed at its bucket."""
    return _targets(tenant)[1]


def backup_request(*, tenant: Tenant, actor, reason: str = "manual") -> Backup:
    """Record a backup and have a worker take it once committed."""
    check_allowed(tenant, actor, "back up", "backed up")
    _targets(tenant)
    if tenant.backups.filter(state=Backup.State.RUNNING).exists():
        why = "A backup of this tenant is already running."
        raise refuse(tenant=tenant, actor=actor, what="back up", why=why)
    item = Backup.objects.create(tenant=tenant, reason=reason)
    from tenants.tasks import WORKERS_LIMITS, take_backup

    transaction.on_commit(lambda: take_backup.apply_async((item.pk,), **WORKERS_LIMITS))
    return item


def backup_take(backup_id: int) -> Backup:
    """Write the backup; it ends done with its size, or failed saying why (never 'done')."""
    item = Backup.objects.select_related("tenant__plan").get(pk=backup_id)
    if item.state != Backup.State.RUNNING:
        return item  # a late copy of its message: it was taken, or given up (_end_abandoned)
    tenant = item.tenant
    try:
        target, store = _targets(tenant)
        kube = make_driver()
        written = backup.write_backup(
            spec=spec_for(tenant),
            target=target,
            store=store,
            stamp=_stamp(item),
            kube=kube,
            progress=BackupProgress(item.pk, files=kube is not None),
        )
    except (StepFailed, TransientError, ApplicationError, SoftTimeLimitExceeded) as exc:
        cause = getattr(exc, "message", None) or str(exc)
        if isinstance(exc, SoftTimeLimitExceeded):
            cause = past_time_limit()
        Backup.objects.filter(pk=item.pk).update(
            state=Backup.State.FAILED, error=cause[:2000], finished_at=timezone.now()
        )
        audit_record(action=Action.TENANT_BACKUP_FAILED, obj=tenant, message=cause)
        log.warning("backup %s of %s failed: %s", item.pk, tenant.slug, cause)
    else:
        manifest = written.manifest
        size = (
            manifest["database"]["size"]
            + manifest["media_bytes"]
            + (manifest["files"] or {}).get("size", 0)
        )
        Backup.objects.filter(pk=item.pk).update(
            state=Backup.State.DONE,
            prefix=written.prefix,
            size_bytes=size,
            bytes_done=size,
            phase="",
            steps_done=F("steps_total"),
            wordpress_version=manifest["wordpress_version"],
            finished_at=timezone.now(),
        )
        audit_record(
            action=Action.TENANT_BACKED_UP,
            obj=tenant,
            after={"prefix": written.prefix, "database_sha256": manifest["database"]["sha256"]},
        )
    item.refresh_from_db()
    return item


def _stamp(item: Backup) -> str:
    return item.created_at.strftime("%Y%m%dT%H%M%S") + f"-{item.pk}"


def backup_prefix_of(item: Backup) -> str:
    """Where the backup's objects are: a failed one records no prefix, yet may have left some."""
    return item.prefix or backup.backup_prefix(spec_for(item.tenant), _stamp(item))


def past_time_limit() -> str:
    return (
        f"it ran past its time limit of {settings.PORTAL_BACKUP_TIME_LIMIT} s "
        "(PORTAL_BACKUP_TIME_LIMIT) and was stopped"
    )


def backups_configured() -> bool:
    return MariaDB.from_settings() is not None and ObjectStore.from_settings() is not None


def backups_offered() -> bool:
    """Whether the tenant page offers backups and clones: not in plan mode, where every one
    would be refused. S3 half configured counts as offered: the action then says what's missing.
    From the settings alone, as backups_configured's drivers read them: building the S3 clients
    takes ~14 ms, and the page asks at every render and poll."""
    s3 = settings.PORTAL_S3_ENDPOINT_URL or settings.PORTAL_IONOS_TOKEN
    return bool(settings.PORTAL_MARIADB_URL and s3)


def backup_final(tenant: Tenant) -> Backup | None:
    """The backup taken before a teardown (or the one another worker is taking, still running);
    None where backups aren't configured (plan mode)."""
    if not backups_configured():
        return None
    with transaction.atomic():
        # One at a time: the beat's purge and a queued one may look at the same tenant.
        Tenant.objects.select_for_update().only("pk").get(pk=tenant.pk)
        running = tenant.backups.filter(reason="final", state=Backup.State.RUNNING).first()
        if running is not None:
            return running  # another worker is taking it
        item = Backup.objects.create(tenant=tenant, reason="final")
    return backup_take(item.pk)


def backup_restore_request(*, tenant: Tenant, actor, backup_id: int) -> Backup:
    """Have a worker overwrite the tenant's database and media with a backup (a dump and a load
    outlast a web request), after a safety backup; the tenant page follows it."""
    check_allowed(tenant, actor, "restore", "restored")
    item = tenant.backups.filter(pk=backup_id, state=Backup.State.DONE).first()
    if item is None:
        why = "That backup doesn't exist or didn't finish; choose another."
        raise refuse(tenant=tenant, actor=actor, what=f"restore backup {backup_id}", why=why)
    _targets(tenant)
    from tenants.restores import restore_begin

    note = f"Restoring the backup of {item}: a safety backup first."
    if not restore_begin(tenant, kind="restore", note=note, actor=actor, backup=item):
        why = "A restore of this tenant is already under way."
        raise refuse(tenant=tenant, actor=actor, what=f"restore {item}", why=why)
    return item


def safety_backup(tenant: Tenant, reason: str) -> Backup:
    """The safety backup of an overwrite under way (a promote's): taken once, and the same one
    when a worker takes up what a dead one began."""
    return _safety_backup(tenant, reason)


def _safety_backup(tenant: Tenant, reason: str = "before restore") -> Backup:
    """The backup of the site as it was before the restore: the one already taken when a worker
    takes up a restore another began (the site may be half-overwritten by now), else a new
    one (a worker that died while taking it left nothing overwritten yet)."""
    tenant.refresh_from_db(fields=["restore_safety"])
    taken = tenant.restore_safety
    if taken is not None and taken.state == Backup.State.DONE:
        return taken
    if taken is not None and taken.state == Backup.State.RUNNING:
        Backup.objects.filter(pk=taken.pk).update(
            state=Backup.State.FAILED,
            error="The worker taking it stopped before it finished; another was taken.",
            finished_at=timezone.now(),
        )
    safety = Backup.objects.create(tenant=tenant, reason=reason)
    Tenant.objects.filter(pk=tenant.pk).update(restore_safety=safety)
    return backup_take(safety.pk)


def backup_restore(*, backup_id: int, actor=None, wakeup: int | None = None) -> str:
    """The worker's part: the safety backup, then the restore; the outcome in words (written
    only while `wakeup` is still the restore's live message, when given)."""
    item = Backup.objects.select_related("tenant__plan").get(pk=backup_id)
    tenant = item.tenant
    ours = Tenant.objects.filter(pk=tenant.pk, restoring=True)
    if wakeup is not None:
        ours = ours.filter(restore_wakeup=wakeup)

    def say(text: str) -> None:
        # The tenant page follows it: which part is under way.
        ours.update(restore_note=f"Restoring the backup of {item}: {text}."[:2000])

    try:
        target, store = _targets(tenant)
        safety = _safety_backup(tenant)
        if safety.state != Backup.State.DONE:
            raise ApplicationError(f"the safety backup failed, so nothing changed: {safety.error}")
        try:
            manifest = backup.restore_backup(
                spec=spec_for(tenant),
                target=target,
                store=store,
                prefix=item.prefix,
                kube=make_driver(),
                say=lambda text: say(f"safety backup {safety} taken; {text}"),
            )
        except (StepFailed, TransientError) as exc:
            raise ApplicationError(f"{exc}; the safety backup is {safety}") from exc
    except ApplicationError as exc:
        note = f"The restore of the backup of {item} failed: {exc.message}"
        audit_record(action=Action.TENANT_BACKUP_FAILED, actor=actor, obj=tenant, message=note)
    else:
        note = f"Restored the backup of {item}; the site as it was is in the safety backup."
        if not manifest.get("files"):
            note += (
                " The backup holds no wp-content (no cluster archived it): the volume is as it was."
            )
        audit_record(
            action=Action.TENANT_RESTORED,
            actor=actor,
            obj=tenant,
            after={"backup": item.prefix, "safety_backup": safety.prefix},
        )
    ours.update(
        restoring=False, restore_note=note[:2000], restore_backup=None, restore_sent_at=None
    )
    return note


def backup_load(tenant: Tenant, item: Backup, say=lambda text: None) -> dict:
    """Put a backup's database, media and wp-content into the tenant: its own backup, or another
    tenant's in the same bucket (a clone's); `say` hears which part is under way. Returns the
    backup's manifest."""
    target, store = _targets(item.tenant)
    if spec_for(tenant).s3_bucket != store.bucket:
        raise ApplicationError(
            f"{tenant.slug} and {item.tenant.slug} keep their files in different buckets"
        )
    try:
        return backup.restore_backup(
            spec=spec_for(tenant),
            target=target,
            store=store,
            prefix=item.prefix,
            kube=make_driver(),
            say=say,
        )
    except (StepFailed, TransientError) as exc:
        raise ApplicationError(str(exc)) from exc


def backup_restore_database(item: Backup) -> None:
    """Only the database, as the backup has it (a failed upgrade's media are untouched)."""
    target, store = _targets(item.tenant)
    try:
        backup.restore_database(
            spec=spec_for(item.tenant), target=target, store=store, prefix=item.prefix
        )
    except (StepFailed, TransientError) as exc:
        raise ApplicationError(str(exc)) from exc
    audit_record(action=Action.TENANT_RESTORED, obj=item.tenant, after={"database": item.prefix})


def last_good_backup(tenant: Tenant) -> Backup | None:
    return tenant.backups.filter(state=Backup.State.DONE).order_by("-created_at").first()


def backups_schedule() -> list[Backup]:
    """Beat: a backup of every ready tenant whose own schedule has one due (counted from its
    newest good backup, tenants.backupschedule), and the test restore of the newest when one
    is due (tenants.retention removes those past their plan's retention)."""
    from tenants.backupschedule import backup_due, with_backup_times  # it imports this module

    if not backups_configured():
        return []
    _end_abandoned()
    started = []
    now = timezone.now()
    ready = with_backup_times(Tenant.objects.filter(state=Tenant.State.READY, desired_present=True))
    for tenant in ready:
        if backup_due(tenant, now):
            started.append(backup_request(tenant=tenant, actor=None, reason="scheduled"))
        last = last_good_backup(tenant) if tenant.last_good_at else None
        if last is not None and _verify_due(last):
            backup_verify_request(last)
    return started


def _end_abandoned() -> int:
    """Fail the backups still running past the task's hard time limit and a message grace: the
    worker taking them died, and a backup left running would refuse every later one of its
    tenant. A message that waited even longer finds its backup given up and does nothing."""
    limit = settings.PORTAL_BACKUP_TIME_LIMIT + 60 + settings.PORTAL_MESSAGE_GRACE
    abandoned = Backup.objects.filter(
        state=Backup.State.RUNNING, created_at__lt=timezone.now() - timedelta(seconds=limit)
    )
    why = "The worker taking it stopped before it finished; the next backup is taken as usual."
    ended = 0
    for item in abandoned.select_related("tenant"):
        if Backup.objects.filter(pk=item.pk, state=Backup.State.RUNNING).update(
            state=Backup.State.FAILED, error=why, finished_at=timezone.now()
        ):
            audit_record(action=Action.TENANT_BACKUP_FAILED, obj=item.tenant, message=why)
            ended += 1
            if item.reason == "before upgrade":
                # The upgrade waiting for it would otherwise wait for ever (and refuse another).
                waiting = Tenant.objects.filter(pk=item.tenant_id).exclude(upgrade_to="")
                waiting.update(
                    upgrade_to="",
                    upgrade_note="The upgrade didn't start: the worker taking the backup before "
                    "it stopped. Nothing changed; ask for it again.",
                )
    return ended


def _verify_due(item: Backup) -> bool:
    """The newest good backup's test restore is due when none proved one of the tenant's in
    the last PORTAL_BACKUP_VERIFY_DAYS and this one wasn't tried yet: one that failed is not
    tried again every hour (the next backup is), nor one a worker is trying."""
    if item.verified_at or item.verify_failed_at or _verifying(item):
        return False
    proofs = item.tenant.backups.filter(verified_at__isnull=False).order_by("-verified_at")
    proof = proofs.values_list("verified_at", flat=True).first()
    return proof is None or timezone.now() - proof > timedelta(
        days=settings.PORTAL_BACKUP_VERIFY_DAYS
    )


def _verifying(item: Backup) -> bool:
    """A test restore of it started within its task's time limit: a worker has it."""
    limit = timedelta(seconds=settings.PORTAL_BACKUP_TIME_LIMIT + 60)
    return item.verify_started_at is not None and timezone.now() - item.verify_started_at < limit


def backup_verify_request(item: Backup) -> None:
    """Have a worker test-restore the backup (it outlasts the beat's own task)."""
    from tenants.tasks import WORKERS_LIMITS, prove_backup

    transaction.on_commit(lambda: prove_backup.apply_async((item.pk,), **WORKERS_LIMITS))


def backup_verify(item: Backup) -> Backup:
    """The test restore: the backup restored into a scratch database and S3 prefix and each
    part proven (provisioning.restoretest), both dropped again; it records what it proved, or
    when and why it failed (audited)."""
    item = Backup.objects.select_related("tenant__plan").get(pk=item.pk)
    now = timezone.now()
    if item.state != Backup.State.DONE or _verifying(item):
        return item  # gone bad meanwhile, or another worker is at it
    Backup.objects.filter(pk=item.pk).update(verify_started_at=now)
    try:
        database = MariaDB.from_settings()
        _, store = _targets(item.tenant)
        proof = verify_backup(
            spec=spec_for(item.tenant), database=database, store=store, prefix=item.prefix
        )
    except (StepFailed, TransientError, ApplicationError, SoftTimeLimitExceeded) as exc:
        cause = getattr(exc, "message", None) or str(exc)
        if isinstance(exc, SoftTimeLimitExceeded):
            cause = past_time_limit()
        Backup.objects.filter(pk=item.pk).update(
            verify_error=cause[:2000], verify_failed_at=timezone.now(), verify_started_at=None
        )
        audit_record(
            action=Action.TENANT_BACKUP_FAILED,
            obj=item.tenant,
            message=f"Test restore of the backup of {item}: {cause}",
        )
    else:
        Backup.objects.filter(pk=item.pk).update(
            verified_at=timezone.now(),
            verify_detail=proof.words()[:500],
            verify_error="",
            verify_failed_at=None,
            verify_started_at=None,
        )
        log.info("backup %s of %s restores: %s", item.pk, item.tenant.slug, proof.words())
    item.refresh_from_db()
    return item


def last_failed_restore_test(tenant: Tenant) -> Backup | None:
    """The newest failed test restore, when it came after the last proven one."""
    failed = tenant.backups.filter(verify_failed_at__isnull=False).order_by("-verify_failed_at")
    item = failed.first()
    proven = last_proven_restore(tenant)
    if item is None or (proven and proven.verified_at > item.verify_failed_at):
        return None
    return item


def last_proven_restore(tenant: Tenant) -> Backup | None:
    return tenant.backups.filter(verified_at__isnull=False).order_by("-verified_at").first()
