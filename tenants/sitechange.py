"""Who may change a live site's settings (members, host names) and the run that applies them."""

from portal import roles
from portal.errors import ApplicationError
from provisioning import runs
from tenants.models import Tenant

# States in which the site exists or is being built, so a change reaches it by a run.
BUILT = (Tenant.State.APPROVED, Tenant.State.PROVISIONING, Tenant.State.READY)


def check_may_change(tenant: Tenant, actor, what: str) -> None:
    """The owner or a platform admin, on a site neither gone nor going; `what` names the
    setting in the refusals (e.g. "who signs in")."""
    if roles.is_auditor(actor):
        raise ApplicationError(f"Auditors can't change {what}.")
    if tenant.owner_id != actor.pk and not roles.is_approver(actor):
        raise ApplicationError(f"Only the owner or a platform admin can change {what}.")
    if not tenant.is_live or not tenant.desired_present:
        raise ApplicationError(f"This site is gone or going: {what} can't change.")


def apply_change(tenant: Tenant, actor, reason: str) -> None:
    # A failed tenant gets the change with its retry, which platform admins decide.
    if tenant.state in BUILT:
        runs.run_request(tenant=tenant, action=runs.APPLY, reason=reason, actor=actor)
