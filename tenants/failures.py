"""A failed build in the requester's words: what stopped, what happens next, whom to ask."""

from dataclasses import dataclass

from django.conf import settings

from provisioning.models import Run, StepRun
from tenants.models import Tenant

# What each step does, as a requester would put it; the step names stay for admins.
STEP_WORDS = {
    "namespace": "preparing the site's own space in the cluster",
    "database": "creating the site's database",
    "storage": "setting up the site's file storage",
    "sso": "setting up sign-in for the site",
    "network": "connecting the site to the network",
    "wordpress": "starting WordPress",
}


@dataclass(frozen=True)
class Failure:
    what: str  # what stopped, in words
    next: str  # what happens now
    contact: str  # an address to write to, or ""


def _failed_step(tenant: Tenant) -> str:
    run = tenant.runs.filter(status=Run.Status.FAILED).exclude(action=Run.Action.CHECK).first()
    if run is None:
        return ""
    step = run.steps.filter(status=StepRun.Status.FAILED).order_by("position").first()
    return step.name if step else ""


def contact_for(tenant: Tenant) -> str:
    if settings.PORTAL_SUPPORT_EMAIL:
        return settings.PORTAL_SUPPORT_EMAIL
    return tenant.decided_by.email if tenant.decided_by else ""


def failure_for(tenant: Tenant) -> Failure | None:
    """The failure as a requester reads it; None unless the tenant is failed."""
    if tenant.state != Tenant.State.FAILED:
        return None
    deleting = not tenant.desired_present
    doing = "Deleting your site" if deleting else "Setting up your site"
    step = _failed_step(tenant)
    if step:
        words = STEP_WORDS.get(step, f"the {step} step")
        what = f"{doing} stopped while {words}."
    else:
        what = f"{doing} stopped because of a problem in the portal itself."
    nxt = (
        "Nothing needs doing on your side: a platform admin was told, looks into the cause and "
        + ("finishes the deletion." if deleting else "finishes the site; a mail tells you when.")
    )
    return Failure(what=what, next=nxt, contact=contact_for(tenant))


def retrying_words(steps) -> str:
    """A sentence while a step waits to be tried again by itself; "" otherwise."""
    again = [s for s in steps if s.status in (StepRun.Status.RETRYING, StepRun.Status.WAITING)]
    if not again:
        return ""
    words = STEP_WORDS.get(again[0].name, f"the {again[0].name} step")
    return (
        f"A passing problem held up {words}; it is tried again by itself, nothing needs "
        "doing. If it keeps failing, a platform admin is told."
    )
