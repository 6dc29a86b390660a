"""Cloning a tenant (a staging site): a request like any other, filled from a backup once built."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.template.defaultfilters import pluralize
from django.utils import timezone

from portal import roles
from portal.errors import ApplicationError
from provisioning import searchreplace
from provisioning.drivers.mariadb import MariaDB
from provisioning.errors import StepFailed, TransientError
from provisioning.spec import spec_for
from tenants import backups, customhosts, notifications, restores, services, validation
from tenants.audit import audit_record
from tenants.models import AuditEvent, Backup, Tenant, TenantMember
from tenants.request_checks import check_request
from tenants.suspension import refuse

Action = AuditEvent.Action
STAGING_SUFFIX = "-staging"
FILLING = "Copying the content of {source} into this clone: its backup is being loaded."


def default_clone_slug(source: Tenant) -> str:
    return source.slug + STAGING_SUFFIX


def _check_source(source: Tenant, actor) -> None:
    if actor is not None and not roles.is_approver(actor) and source.owner_id != actor.pk:
        raise refuse(
            tenant=source,
            actor=actor,
            what="clone",
            why="Only the owner or a platform admin can clone a tenant.",
        )
    if source.state != Tenant.State.READY or not source.desired_present:
        raise ApplicationError(
            f"Only a ready tenant can be cloned; this one is “{source.state_label}”."
        )
    if source.delete_after is not None:
        raise ApplicationError("This tenant is to be deleted; cancel the deletion first.")
    if source.clone_of_id is not None:
        raise ApplicationError(
            f"{source.slug} is itself a clone of {source.clone_of}; clone {source.clone_of} "
            "instead."
        )
    if not backups.backups_configured():
        raise ApplicationError(
            "A clone is filled from a backup: cloning needs the platform's MariaDB and S3 "
            "configured."
        )


def _chosen_backup(source: Tenant, backup_id: int | None) -> Backup | None:
    if not backup_id:
        return None  # a fresh one, taken when the clone is built
    item = source.backups.filter(pk=backup_id, state=Backup.State.DONE).first()
    if item is None:
        raise ValidationError(
            {"backup": ["That backup doesn't exist or didn't finish; choose another."]}
        )
    return item


def _in_clone_words(exc: ValidationError, source: Tenant, actor) -> ValidationError:
    """The request's rules, said of a clone: its plan and version are the original's."""
    errors = dict(exc.message_dict)
    if "plan" in errors:
        errors["__all__"] = [
            f"{source.slug} is on the {source.plan.title} plan, which is no longer offered: "
            "move it to another plan before cloning it."
        ]
        del errors["plan"]
    if "wordpress_version" in errors:
        errors.setdefault("__all__", []).append(
            f"{source.slug} runs WordPress {source.wordpress_version}, which is no longer "
            "offered: upgrade it before cloning it."
        )
        del errors["wordpress_version"]
    if actor is not None and actor.pk != source.owner_id and "__all__" in errors:
        most = settings.PORTAL_MAX_TENANTS_PER_USER
        owner = source.owner.get_username()
        errors["__all__"] = [
            f"{owner} already has {most} open requests or tenants, the most one person may "
            "have; the clone would be theirs."
            if text.startswith("You already have")
            else text
            for text in errors["__all__"]
        ]
    return ValidationError(errors)


def tenant_clone(
    *, source: Tenant, actor, slug: str = "", host: str = "", backup_id: int | None = None
) -> Tenant:
    """File the request for a clone: a tenant of its own (namespace, database, S3 prefix,
    Authentik client, host) on the original's plan and version, owned by the original's owner
    (it counts against their allowance). Like every new tenant it waits for a platform admin's
    approval; once built, a worker fills it from the chosen backup, else a fresh one."""
    _check_source(source, actor)
    item = _chosen_backup(source, backup_id)
    slug = validation.normalize_slug(slug) or default_clone_slug(source)
    host = validation.normalize_host(host) or validation.default_host(slug)
    try:
        check_request(
            owner=source.owner,
            slug=slug,
            plan=source.plan,
            wordpress_version=source.wordpress_version,
            host=host,
        )
    except ValidationError as exc:
        raise _in_clone_words(exc, source, actor) from exc
    clone = Tenant(
        slug=slug,
        display_name=f"{source.display_name} (staging)"[:100],
        plan=source.plan,
        wordpress_version=source.wordpress_version,
        admin_email=source.admin_email,
        host=host,
        owner=source.owner,
        content_pipeline=False,  # a staging site publishes nothing
        clone_of=source,
        clone_backup=item,
    )
    clone.full_clean(validate_constraints=False)
    what = f"the backup of {item}" if item else "a fresh backup"
    try:
        with transaction.atomic():
            clone.save()
            # Its own custom host waits for its proof like any request's, the beat looking too.
            customhosts.request_host(clone)
            # The same people sign in to the clone as to the original.
            TenantMember.objects.bulk_create(
                TenantMember(tenant=clone, username=name, added_by=actor)
                for name in source.members.values_list("username", flat=True)
            )
            audit_record(
                action=Action.TENANT_REQUESTED,
                actor=actor,
                obj=clone,
                after={**services.tenant_snapshot(clone), "clone_of": source.slug},
                message=f"A clone of {source.slug}, filled from {what}.",
            )
            audit_record(
                action=Action.TENANT_CLONE_REQUESTED,
                actor=actor,
                obj=source,
                after={"clone": clone.slug, "host": clone.host, "backup": item and item.prefix},
            )
    except IntegrityError as exc:
        raise ValidationError(
            {"slug": ["That name or host was taken a moment ago; pick another."]}
        ) from exc
    transaction.on_commit(lambda: notifications.notify_new_request(clone.pk))
    return clone


def after_ready(tenant: Tenant) -> None:
    """Called by the engine, in its transaction, when a tenant became ready: a clone whose
    content isn't copied yet has a worker copy it (a dump's load outlasts a step)."""
    if tenant.clone_of_id is None:
        return
    source = Tenant.objects.filter(pk=tenant.clone_of_id).values_list("slug", flat=True).first()
    _fill(tenant, source or "the original")


def _fill(tenant: Tenant, source: str, actor=None) -> bool:
    # Under the restores' lease and resend, so a dead worker or a lost message doesn't leave
    # the clone filling for ever.
    return restores.restore_begin(
        tenant,
        kind="fill",
        note=FILLING.format(source=source),
        actor=actor,
        backup=tenant.clone_backup,  # kept from expiry meanwhile
        cloned_at__isnull=True,
        desired_present=True,
    )


def clone_fill_again(*, tenant: Tenant, actor) -> Tenant:
    """Have a worker copy the original's content into a clone whose copy failed or ended (its
    chosen backup, else a fresh one, as the first time)."""
    source = tenant.clone_of
    if source is None:
        raise ApplicationError("Only a clone is filled from its original; this tenant is none.")
    if actor is not None and not roles.is_approver(actor) and tenant.owner_id != actor.pk:
        why = "Only the owner or a platform admin can fill a clone again."
        raise refuse(tenant=tenant, actor=actor, what="fill again", why=why)
    if tenant.cloned_at is not None:
        raise ApplicationError(f"{tenant.slug} already has the content of {source.slug}.")
    if tenant.state != Tenant.State.READY or not tenant.desired_present:
        raise ApplicationError(
            f"Only a ready clone can be filled; this one is “{tenant.state_label}”."
        )
    if not source.desired_present:
        raise ApplicationError(f"{source.slug} is being deleted: there is nothing to copy.")
    if not _fill(tenant, source.slug, actor):
        raise ApplicationError(f"{tenant.slug} is being filled or restored; wait for it.")
    audit_record(
        action=Action.TENANT_CLONE_REQUESTED,
        actor=actor,
        obj=tenant,
        message=f"The content of {source.slug} copied again.",
    )
    return tenant


def rewrites(old: Tenant, new: Tenant) -> list[tuple[str, str]]:
    """What moves from one site to the other in its content: links to the host and to every
    custom host proven on the old site (the clone's must not lead to the production domain,
    which is not the clone's: a host belongs to one tenant), all to the new site's own host;
    media paths."""
    theirs, ours = spec_for(old), spec_for(new)
    return [
        *(("//" + host, "//" + ours.host) for host in theirs.hosts),
        (theirs.s3_prefix, ours.s3_prefix),
    ]


def rewrite_content(tenant: Tenant, old: Tenant) -> int:
    """The tenant's database told it lives at its own host now (serialized values kept whole)."""
    try:
        return searchreplace.rewrite_database(
            MariaDB.from_settings(), spec_for(tenant).db_name, rewrites(old, tenant)
        )
    except (StepFailed, TransientError) as exc:
        raise ApplicationError(f"rewriting its links failed: {exc}") from exc


def _backup_of_source(clone: Tenant, source: Tenant) -> Backup:
    item = clone.clone_backup
    if item is not None and item.state == Backup.State.DONE:
        return item
    fresh = backups.backup_take(Backup.objects.create(tenant=source, reason="for a clone").pk)
    if fresh.state != Backup.State.DONE:
        raise ApplicationError(f"the backup of {source.slug} failed: {fresh.error}")
    return fresh


def _progress(ours, source: Tenant):
    def say(text: str) -> None:
        # The clone's page follows it: which part is under way.
        ours.update(
            restore_note=f"Copying the content of {source.slug} into this clone: {text}."[:2000]
        )

    return say


def clone_fill(tenant_id: int, wakeup: int | None = None) -> str:
    """The worker's part (tenants.restores runs it): the original's backup loaded into the
    clone, its links rewritten to the clone's host and media; the outcome in words on the
    clone's page (written only while `wakeup` is still the fill's live message, when given)."""
    clone = Tenant.objects.select_related("plan", "clone_of__plan", "clone_backup").get(
        pk=tenant_id
    )
    source = clone.clone_of
    ours = Tenant.objects.filter(pk=clone.pk, restoring=True)
    if wakeup is not None:
        ours = ours.filter(restore_wakeup=wakeup)
    over = {"restoring": False, "restore_backup": None, "restore_sent_at": None}
    try:
        if source is None or not source.desired_present:
            raise ApplicationError("the original is being deleted or gone")
        item = _backup_of_source(clone, source)
        say = _progress(ours, source)
        say(f"its backup of {item.created_at:%Y-%m-%d %H:%M} is ready")
        backups.backup_load(clone, item, say=say)
        say("rewriting its links")
        changed = rewrite_content(clone, source)
    except ApplicationError as exc:
        name = source.slug if source else "the original"
        note = (
            f"Copying the content of {name} into this clone failed: {exc.message}. "
            + restores.clone_again()
        )
        audit_record(action=Action.TENANT_CLONE_FAILED, obj=clone, message=note)
        ours.update(restore_note=note[:2000], **over)
        return note
    note = (
        f"Copied the content of {source.slug} from its backup of {item}; {changed} "
        f"value{pluralize(changed)} now name{pluralize(changed, 's,')} {clone.host} and its own "
        "media."
    )
    ours.update(restore_note=note, cloned_at=timezone.now(), clone_backup=item, **over)
    audit_record(
        action=Action.TENANT_CLONED,
        obj=clone,
        after={"clone_of": source.slug, "backup": item.prefix, "values_rewritten": changed},
    )
    return note
