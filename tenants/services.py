"""Actions on tenants: request, decide, retry, reconcile, delete. Each writes its audit event."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from portal import roles
from portal.errors import ApplicationError
from provisioning import runs
from provisioning.waiting import retry_waiting, tenant_waiting
from tenants import customhosts, deletion, notifications, pipeline, validation
from tenants.audit import audit_record
from tenants.models import AuditEvent, Plan, Tenant
from tenants.request_checks import check_request
from tenants.states import tenant_transition

Action = AuditEvent.Action


def tenant_snapshot(tenant: Tenant) -> dict:
    """The fields an auditor compares before and after; never a secret."""
    return {
        "slug": tenant.slug,
        "display_name": tenant.display_name,
        "plan": tenant.plan.name,
        "wordpress_version": tenant.wordpress_version,
        "admin_email": tenant.admin_email,
        "host": tenant.host,
        "state": tenant.state,
        "owner": tenant.owner.get_username(),
        "content_pipeline": tenant.content_pipeline,
    }


def _pipeline_choice(choice: bool | None, plan: Plan, wordpress_version: str) -> bool:
    """The requester's choice, else the plan's default, for a version that can have it."""
    unavailable = pipeline.pipeline_unavailable(wordpress_version)
    if choice and unavailable:
        raise ValidationError({"content_pipeline": [unavailable]})
    return (plan.content_pipeline_default and not unavailable) if choice is None else choice


def _taken_meanwhile() -> ValidationError:
    # Someone took the slug or host between our check and our write.
    return ValidationError({"slug": ["That name or host was taken a moment ago; pick another."]})


def tenant_request_submit(
    *,
    owner,
    slug: str,
    display_name: str,
    plan: Plan,
    wordpress_version: str,
    admin_email: str,
    host: str = "",
    content_pipeline: bool | None = None,
) -> Tenant:
    """File a request for a new tenant; approvers are told. The content pipeline follows the
    plan unless the requester chose (None: as the plan says)."""
    slug = validation.normalize_slug(slug)
    host = validation.normalize_host(host) or validation.default_host(slug)
    check_request(owner=owner, slug=slug, plan=plan, wordpress_version=wordpress_version, host=host)
    tenant = Tenant(
        slug=slug,
        display_name=display_name.strip(),
        plan=plan,
        wordpress_version=wordpress_version,
        admin_email=admin_email.strip(),
        host=host,
        owner=owner,
        content_pipeline=_pipeline_choice(content_pipeline, plan, wordpress_version),
    )
    tenant.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            tenant.save()
            customhosts.request_host(tenant)
            audit_record(
                action=Action.TENANT_REQUESTED,
                actor=owner,
                obj=tenant,
                after=tenant_snapshot(tenant),
            )
    except IntegrityError as exc:
        raise _taken_meanwhile() from exc
    notifications.queue_notice("new_request", tenant.pk)
    return tenant


def tenant_request_resubmit(
    *,
    tenant_id: int,
    actor,
    slug: str,
    display_name: str,
    plan: Plan,
    wordpress_version: str,
    admin_email: str,
    host: str = "",
    content_pipeline: bool | None = None,
) -> Tenant:
    """Send a rejected request again, changed as its requester sees fit; approvers are told."""
    tenant = Tenant.objects.select_related("plan", "owner").filter(pk=tenant_id).first()
    if tenant is None or actor is None or tenant.owner_id != actor.pk:
        raise ApplicationError("Only the person who asked for this tenant can send it again.")
    if tenant.state != Tenant.State.REJECTED:
        raise ApplicationError(
            f"Only a rejected request can be edited and sent again; this one is "
            f"“{tenant.state_label}”."
        )
    slug = validation.normalize_slug(slug)
    host = validation.normalize_host(host) or validation.default_host(slug)
    check_request(
        owner=actor,
        slug=slug,
        plan=plan,
        wordpress_version=wordpress_version,
        host=host,
        exclude_pk=tenant.pk,
    )
    before = tenant_snapshot(tenant)
    changes = {
        "slug": slug,
        "display_name": display_name.strip(),
        "plan": plan,
        "wordpress_version": wordpress_version,
        "admin_email": admin_email.strip(),
        "host": host,
        "content_pipeline": _pipeline_choice(content_pipeline, plan, wordpress_version),
    }
    for field, value in changes.items():
        setattr(tenant, field, value)
    tenant.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            # The decision is over; the rejection itself stays in the history (audit trail).
            won = tenant_transition(
                tenant_id=tenant.pk,
                to=Tenant.State.REQUESTED,
                only_from=[Tenant.State.REJECTED],
                decided_by=None,
                decided_at=None,
                rejection_reason="",
                **changes,
            )
            if not won:
                raise ApplicationError("This request changed meanwhile; reload the page.")
            tenant.refresh_from_db()
            customhosts.request_host(tenant, before["host"])
            audit_record(
                action=Action.TENANT_RESUBMITTED,
                actor=actor,
                obj=tenant,
                before=before,
                after=tenant_snapshot(tenant),
            )
    except IntegrityError as exc:
        raise _taken_meanwhile() from exc
    notifications.queue_notice("new_request", tenant.pk)
    return tenant


def _may_administer(actor) -> bool:
    """Platform admins, and the operator at the command line (actor None)."""
    return actor is None or roles.is_approver(actor)


def _bucket_for(tenant: Tenant) -> str:
    """Today's bucket; a clone's is its original's, so copies between the two stay in one."""
    original = tenant.clone_of
    if original is not None and original.s3_bucket:
        return original.s3_bucket
    return settings.PORTAL_S3_BUCKET


def _asked_for_by(tenant: Tenant, actor) -> bool:
    """Whether the actor filed the request (the audit trail's record of who asked)."""
    return AuditEvent.objects.filter(
        action=Action.TENANT_REQUESTED, object_type="tenant", object_id=str(tenant.pk), actor=actor
    ).exists()


def _decide(*, tenant_id: int, actor, to: str, reason: str = "") -> Tenant:
    if actor is None or not roles.is_approver(actor):
        raise ApplicationError("Only platform admins can approve or reject requests.")
    tenant = Tenant.objects.select_related("plan", "owner").filter(pk=tenant_id).first()
    if tenant is None:
        raise ApplicationError("That request does not exist.")
    if tenant.owner_id == actor.pk:
        raise ApplicationError("You can't decide on your own request; another admin must.")
    if tenant.clone_of_id is not None and _asked_for_by(tenant, actor):
        # An admin's clone of someone else's tenant is theirs to ask for, not to approve.
        raise ApplicationError("You asked for this clone; another admin must decide on it.")
    waiting = tenant.state == Tenant.State.REQUESTED
    if to == Tenant.State.APPROVED and waiting and customhosts.primary_unproven(tenant):
        raise ApplicationError(
            f"{tenant.host} is not proven yet: the requester creates the DNS TXT record shown "
            "on the tenant's page and checks it there. Approve once it is proven, or reject."
        )
    before = tenant_snapshot(tenant)
    with transaction.atomic():
        won = tenant_transition(
            tenant_id=tenant.pk,
            to=to,
            only_from=[Tenant.State.REQUESTED],
            decided_by=actor,
            decided_at=timezone.now(),
            rejection_reason=reason,
            s3_bucket=_bucket_for(tenant) if to == Tenant.State.APPROVED else "",
        )
        if not won:
            tenant.refresh_from_db()
            if tenant.decided_by is None and not tenant.desired_present:
                raise ApplicationError("This request was withdrawn; there is nothing to decide.")
            who = tenant.decided_by.get_username() if tenant.decided_by else "someone"
            raise ApplicationError(
                f"This request was already decided by {who}: it is now “{tenant.state_label}”."
            )
        tenant.refresh_from_db()
        action = Action.TENANT_APPROVED if to == Tenant.State.APPROVED else Action.TENANT_REJECTED
        audit_record(
            action=action,
            actor=actor,
            obj=tenant,
            before=before,
            after=tenant_snapshot(tenant),
            message=reason,
        )
        if to == Tenant.State.APPROVED:
            runs.run_request(tenant=tenant, action=runs.APPLY, reason="approved", actor=actor)
    notifications.queue_notice("decision", tenant.pk)
    return tenant


def tenant_approve(*, tenant_id: int, actor) -> Tenant:
    """Approve a pending request and start provisioning it once the decision is committed."""
    return _decide(tenant_id=tenant_id, actor=actor, to=Tenant.State.APPROVED)


def tenant_reject(*, tenant_id: int, actor, reason: str) -> Tenant:
    """Reject a pending request with a reason the requester will read."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Say why, so the requester knows what to change."]})
    return _decide(tenant_id=tenant_id, actor=actor, to=Tenant.State.REJECTED, reason=reason)


def tenant_retry(*, tenant: Tenant, actor) -> Tenant:
    """Start a new run for a failed tenant, or now for one waiting for an outside system
    (rather than when the sweep would); it skips whatever already matches."""
    if not _may_administer(actor):
        raise ApplicationError("Only platform admins can retry a tenant.")
    held = tenant_waiting(tenant)
    if held is not None and held.retry_at is None:
        raise ApplicationError(
            f"The portal is trying again right now (waiting for {held.system}); "
            "the page shows how it goes."
        )
    if tenant.state != Tenant.State.FAILED and held is None:
        raise ApplicationError(
            "Only a failed tenant, or one waiting for an outside system, can be retried."
        )
    with transaction.atomic():
        message = ""
        if held is not None:
            # Now rather than when the sweep would; locked, so the sweep doesn't start one too.
            held = retry_waiting(tenant, reason="retry", actor=actor, due_only=False)
            if held is None:
                raise ApplicationError("This tenant changed a moment ago; reload the page.")
            message = (
                f"Retried now, while waiting for {held.system} since "
                f"{held.since:%Y-%m-%d %H:%M} UTC (the portal would have tried at "
                f"{held.retry_at:%H:%M} UTC)."
            )
        else:
            action = runs.APPLY if tenant.desired_present else runs.DESTROY
            runs.run_request(tenant=tenant, action=action, reason="retry", actor=actor)
        audit_record(action=Action.TENANT_RETRIED, actor=actor, obj=tenant, message=message)
    return tenant


def tenant_reconcile(*, tenant: Tenant, actor, reason: str = "manual") -> Tenant:
    """Ask the engine to converge a ready or failed tenant again."""
    if not _may_administer(actor):
        if tenant.owner_id != actor.pk:
            raise ApplicationError("Only the owner or a platform admin can reconcile a tenant.")
        if tenant.state == Tenant.State.FAILED:
            # Building a failed tenant again is a retry, which platform admins decide.
            raise ApplicationError("A failed tenant is retried by a platform admin.")
    if tenant.state not in (Tenant.State.READY, Tenant.State.FAILED) or not tenant.desired_present:
        raise ApplicationError("Only a ready or failed tenant can be reconciled.")
    with transaction.atomic():
        runs.run_request(tenant=tenant, action=runs.APPLY, reason=reason, actor=actor)
        audit_record(action=Action.TENANT_RECONCILED, actor=actor, obj=tenant, message=reason)
    return tenant


def tenant_delete(*, tenant: Tenant, actor, now: bool = False) -> Tenant:
    """Ask for a tenant to be torn down; a request not yet decided is simply withdrawn. A built
    tenant is suspended first and purged by tenants.deletion, its final backup then its
    teardown: after the grace period, or at once without one (or with `now`)."""
    if tenant.state in (Tenant.State.DELETED, Tenant.State.REJECTED):
        raise ApplicationError("This tenant is already gone.")
    if tenant.state == Tenant.State.DELETING or not tenant.desired_present:
        raise ApplicationError("This tenant is already being deleted.")
    if not _may_administer(actor) and tenant.owner_id != actor.pk:
        raise ApplicationError("Only the owner or a platform admin can delete a tenant.")
    days = deletion.deletion_days(tenant, now=now)
    if days is not None:
        # A built site is saved first, by the purge's one path (never torn down unsaved): with
        # no grace period due now, a worker's purge queued.
        return deletion.tenant_schedule_deletion(tenant=tenant, actor=actor, days=days)
    return tenant_teardown(tenant=tenant, actor=actor)


def tenant_teardown(*, tenant: Tenant, actor, only=None) -> Tenant:
    """Tear the tenant down now, or withdraw a request not yet decided; only while the row is
    still in `only`, when given. What is to be saved was saved by the caller (the purge)."""
    before = tenant_snapshot(tenant)
    with transaction.atomic():
        if tenant.state == Tenant.State.REQUESTED:
            # Nothing was built yet: the request is withdrawn, not deprovisioned.
            won = Tenant.objects.filter(pk=tenant.pk, state=Tenant.State.REQUESTED).update(
                state=Tenant.State.DELETED, desired_present=False, state_changed_at=timezone.now()
            )
            if not won:
                raise ApplicationError("This request was decided a moment ago; reload the page.")
        else:
            rows = Tenant.objects.all() if only is None else only
            if not rows.filter(pk=tenant.pk).update(desired_present=False):
                raise ApplicationError("This tenant changed a moment ago; reload the page.")
            if not tenant_transition(tenant_id=tenant.pk, to=Tenant.State.DELETING):
                raise ApplicationError("This tenant changed a moment ago; reload the page.")
            runs.run_request(tenant=tenant, action=runs.DESTROY, reason="delete", actor=actor)
        tenant.refresh_from_db()
        audit_record(
            action=Action.TENANT_DELETE_REQUESTED,
            actor=actor,
            obj=tenant,
            before=before,
            after=tenant_snapshot(tenant),
            # The trail (and the tenant's history) says a request taken back, not a site gone.
            message="Request withdrawn before any decision; nothing was built."
            if tenant.is_withdrawn
            else "",
        )
    return tenant
