"""A tenant held back by an outside system that is down: which one, since when, and when the
sweep tries again (PORTAL_OUTAGE_RETRY_DELAY, doubled for each such run in a row)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from provisioning.models import Run, StepRun
from provisioning.runs import run_request
from tenants.models import Tenant

# States in which a run builds or removes a tenant: only then is it held back, not degraded.
BUILDING = (Tenant.State.PROVISIONING, Tenant.State.DELETING)
STREAK = 10  # runs looked back at: enough for the delay to reach its cap
MAX_DELAY = 6 * 3600


@dataclass(frozen=True)
class Waiting:
    system: str  # e.g. "Kubernetes", "Authentik"
    since: datetime  # the outage's first passing error, in the first run it ended
    retry_at: datetime | None  # when the sweep starts the next run; None while one runs
    action: str  # what to try again: apply or destroy
    cause: str  # the last ended run's error, for admins
    runs: int  # runs in a row the outage ended


def retry_delay(in_a_row: int) -> float:
    """Seconds after the last such run before the next: doubled for each, six hours at most."""
    return min(MAX_DELAY, settings.PORTAL_OUTAGE_RETRY_DELAY * 2 ** max(0, in_a_row - 1))


def tenant_waiting(tenant: Tenant) -> Waiting | None:
    """The outage the tenant waits for, or None: its last ended run (drift checks aside) failed
    because a system stayed away past the step's retry budget, and it is still being built or
    removed. While a new run of the same action tries again, retry_at is None."""
    if tenant.state not in BUILDING:
        return None
    runs = list(tenant.runs.exclude(reason="drift").order_by("-created_at", "-id")[:STREAK])
    trying = bool(runs) and runs[0].is_open
    ended = runs[1:] if trying else runs
    streak = []
    for run in ended:
        # Runs in a row ended by the same system: another one away is an outage of its own,
        # waited for since its own first error and from the first delay, not the doubled one.
        if run.status != Run.Status.FAILED or not run.outage or run.outage != ended[0].outage:
            break
        streak.append(run)
    if not streak or (trying and runs[0].action != streak[0].action):
        return None
    first = streak[-1]
    step = first.steps.filter(status=StepRun.Status.FAILED).order_by("position").first()
    since = (step and step.failing_since) or first.started_at or first.created_at
    last = streak[0]
    retry_at = None
    if not trying:
        retry_at = last.finished_at + timedelta(seconds=retry_delay(len(streak)))
    return Waiting(
        system=last.outage,
        since=since,
        retry_at=retry_at,
        action=last.action,
        cause=last.error,
        runs=len(streak),
    )


def retry_waiting(tenant: Tenant, *, reason: str, actor=None, due_only: bool = True):
    """Start the next try of a tenant that waits for an outage, once: under the tenant's row
    lock, so two sweeps at a time (or a sweep and an admin) never both start one. Returns the
    wait it ended, or None when the tenant no longer waits, a try is under way or (due_only)
    its time hasn't come."""
    with transaction.atomic():
        Tenant.objects.select_for_update().filter(pk=tenant.pk).values_list("pk").first()
        # Read after the lock (a statement of its own): what the other holder committed counts.
        tenant.refresh_from_db(fields=["state"])
        held = tenant_waiting(tenant)
        if held is None or held.retry_at is None:
            return None
        if due_only and held.retry_at > timezone.now():
            return None
        run_request(tenant=tenant, action=held.action, reason=reason, actor=actor)
    return held
