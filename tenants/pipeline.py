"""The AI content pipeline switch of a tenant: on or off by its owner or an admin, audited."""

from django.db import transaction
from django.utils import timezone

from portal import roles
from portal.errors import ApplicationError
from provisioning import runs
from provisioning.manifests.wordpress import ABILITIES_MIN_WORDPRESS
from tenants.audit import audit_record
from tenants.models import AuditEvent, Tenant

# Not yet built: only the desired state changes (the first run builds it as asked).
_UNBUILT = (Tenant.State.REQUESTED, Tenant.State.REJECTED)
# Built and settled: the switch queues a run that adds or removes the pipeline's link.
_SETTLED = (Tenant.State.READY, Tenant.State.FAILED)


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def pipeline_unavailable(wordpress_version: str) -> str:
    """Why a site of this WordPress version can't have the pipeline ('' when it can): its MCP
    plugin runs on the Abilities API, core's from 6.9 and the Abilities API plugin's on 6.8,
    which needs 6.8 (provisioning/manifests/wordpress.py, deploy/wordpress/plugins.lock)."""
    if _release(wordpress_version) >= _release(ABILITIES_MIN_WORDPRESS):
        return ""
    return (
        f"The AI content pipeline needs WordPress {ABILITIES_MIN_WORDPRESS} or later; this site "
        f"runs {wordpress_version}. Upgrade it first."
    )


def tenant_pipeline_switch(*, tenant: Tenant, actor, on: bool) -> Tenant:
    """Switch the content pipeline of a tenant on or off; a built tenant is converged again."""
    if actor is None or not (roles.is_approver(actor) or tenant.owner_id == actor.pk):
        raise ApplicationError("Only the owner or a platform admin can switch the pipeline.")
    if not tenant.desired_present or tenant.state not in (*_UNBUILT, *_SETTLED):
        raise ApplicationError(
            f"The pipeline can be switched on a requested, ready or failed tenant; this one is "
            f"“{tenant.state_label}”. Try again once it has settled."
        )
    if tenant.content_pipeline == on:
        raise ApplicationError(f"The content pipeline is already {'on' if on else 'off'}.")
    if on and pipeline_unavailable(tenant.wordpress_version):
        raise ApplicationError(pipeline_unavailable(tenant.wordpress_version))
    with transaction.atomic():
        won = Tenant.objects.filter(
            pk=tenant.pk, state=tenant.state, content_pipeline=not on, desired_present=True
        ).update(content_pipeline=on, updated_at=timezone.now())
        if not won:
            raise ApplicationError("This tenant changed a moment ago; reload the page.")
        tenant.refresh_from_db()
        # Building a failed tenant again is a retry, which platform admins decide: the owner's
        # switch of a failed tenant waits for it.
        if tenant.state == Tenant.State.READY or (
            tenant.state == Tenant.State.FAILED and roles.is_approver(actor)
        ):
            runs.run_request(tenant=tenant, action=runs.APPLY, reason="pipeline", actor=actor)
        audit_record(
            action=AuditEvent.Action.TENANT_PIPELINE,
            actor=actor,
            obj=tenant,
            before={"content_pipeline": not on},
            after={"content_pipeline": on},
            message=f"content pipeline switched {'on' if on else 'off'}",
        )
    return tenant
