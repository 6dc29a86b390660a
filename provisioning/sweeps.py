"""The minute sweep: end runs no worker has touched for too long, re-send lost messages, and
start the drift checks that are due."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Greatest, Now
from django.utils import timezone

from provisioning.locks import holder_name
from provisioning.models import Run
from provisioning.runs import APPLY, CHECK, run_request, send
from provisioning.waiting import BUILDING, retry_waiting
from tenants.models import Tenant

log = logging.getLogger(__name__)


SWEEP_KEY = "provisioning:sweep"


def sweep() -> bool:
    """One sweep at a time: one slower than PORTAL_SWEEP_INTERVAL isn't joined by the next on
    another worker (both would start the same drift checks and retries). False if skipped."""
    # Held in the shared cache for three intervals at most, so a sweeping worker that dies
    # (killed mid-sweep) holds up the next sweeps only that long.
    hold = max(10, 3 * settings.PORTAL_SWEEP_INTERVAL)
    me = holder_name()
    if not cache.add(SWEEP_KEY, me, timeout=hold):
        log.info("a sweep is still under way; this one is left out")
        return False
    try:
        end_stalled_runs()
        for run in runs_without_live_message():
            send(run.tenant_id, run.pk, run.wakeup)
        start_drift_checks()
        retry_after_outages()
        prune_quiet_drift_runs()
    finally:
        if cache.get(SWEEP_KEY) == me:  # not the next one's, had ours run out
            cache.delete(SWEEP_KEY)
    return True


def retry_after_outages() -> list[int]:
    """A new run for each tenant whose last run an outage ended (its step's retry budget spent
    on a system that was away), once its wait is over (provisioning.waiting): a long outage is
    waited out, not made a failure."""
    open_runs = Run.objects.filter(tenant=OuterRef("pk"), status__in=Run.OPEN)
    waiting = Tenant.objects.filter(state__in=BUILDING).exclude(Exists(open_runs))
    started = []
    for tenant in waiting.select_related("plan"):
        if retry_waiting(tenant, reason="outage retry"):
            started.append(tenant.pk)
    return started


PRUNE_BATCH = 1000  # runs deleted per sweep at most: the minute sweep stays quick


def prune_quiet_drift_runs() -> int:
    """Delete drift runs that found nothing and succeeded, once older than
    PORTAL_DRIFT_RETENTION_DAYS (their step rows go with them). What found drift, what failed,
    each tenant's latest check and the audit trail are kept."""
    cutoff = timezone.now() - timedelta(days=settings.PORTAL_DRIFT_RETENTION_DAYS)
    newer = Run.objects.filter(
        tenant=OuterRef("tenant"), reason="drift", created_at__gt=OuterRef("created_at")
    )
    quiet = (
        Run.objects.filter(
            reason="drift", status=Run.Status.SUCCEEDED, drift=[], finished_at__lt=cutoff
        )
        .filter(Exists(newer))
        .values_list("pk", flat=True)[:PRUNE_BATCH]
    )
    _, deleted = Run.objects.filter(pk__in=list(quiet)).delete()
    return deleted.get(Run._meta.label, 0)


def _unlocked() -> Q:
    # Expiry on the database's clock, as the lease itself.
    return Q(tenant__lock_holder="") | Q(tenant__lock_expires_at__lt=Now())


def _oldest_open_per_tenant():
    older = Run.objects.filter(
        tenant=OuterRef("tenant"), status__in=Run.OPEN, created_at__lt=OuterRef("created_at")
    )
    return Run.objects.filter(status__in=Run.OPEN).exclude(Exists(older))


def end_stalled_runs() -> list[int]:
    """Fail the runs a worker began but none has heartbeated for PORTAL_RUN_STALL_TIMEOUT,
    though the sweep kept re-sending them (no worker takes them up, or each one dies)."""
    limit = timedelta(seconds=settings.PORTAL_RUN_STALL_TIMEOUT)
    # A waiting run is alive until its wake-up is due; after that its heartbeat must come.
    # (PostgreSQL's GREATEST leaves out NULLs.)
    last_sign = Greatest(F("heartbeat_at"), F("not_before"))
    stalled = (
        Run.objects.filter(status__in=Run.OPEN, heartbeat_at__isnull=False)
        .filter(_unlocked())
        .alias(last_sign=last_sign)
        .filter(last_sign__lt=Now() - limit)
    )
    from provisioning.engine import abort_stalled

    ended = []
    for run in stalled.select_related("tenant"):
        minutes = round(limit.total_seconds() / 60)
        since = run.heartbeat_at.strftime("%Y-%m-%d %H:%M UTC")
        if abort_stalled(
            run,
            f"stalled: no worker has worked on it since {since} (over {minutes} minutes); "
            "ask for a retry once the workers run again",
        ):
            log.warning("run %s of tenant %s ended: stalled since %s", run.pk, run.tenant_id, since)
            ended.append(run.pk)
    return ended


def runs_without_live_message() -> list[Run]:
    """Open runs nobody holds whose message should have arrived a grace period ago: the broker
    lost it (a Redis flush, a restart without persistence). Their message is sent again with
    the same wake-up, so if the first copy turns up after all, only one of them acts."""
    grace = timedelta(seconds=settings.PORTAL_MESSAGE_GRACE)
    # Running but nobody holds it: its worker died (killed, or cut off by the hard time limit,
    # after which Celery acknowledges the message), so a sweep's pause is grace enough.
    dead_holder = Q(status=Run.Status.RUNNING) & Q(
        wakeup_at__lt=Now() - timedelta(seconds=settings.PORTAL_SWEEP_INTERVAL)
    )
    lost = (
        _oldest_open_per_tenant()
        .filter(_unlocked())
        .filter(Q(not_before__isnull=True) | Q(not_before__lte=Now()))
        .filter(Q(wakeup_at__isnull=True) | Q(wakeup_at__lt=Now() - grace) | dead_holder)
    )
    found = list(lost.only("pk", "tenant_id", "wakeup"))
    # Re-sent now: the next sweep waits another grace period before sending a third copy.
    Run.objects.filter(pk__in=[run.pk for run in found]).update(wakeup_at=Now())
    return found


def start_drift_checks() -> None:
    now = timezone.now()
    open_runs = Run.objects.filter(tenant=OuterRef("pk"), status__in=Run.OPEN)
    # The sweep comes every PORTAL_SWEEP_INTERVAL: a check is due on the first sweep past the
    # drift interval (half a sweep's tolerance, so a sweep a little early still counts).
    due_after = settings.PORTAL_DRIFT_INTERVAL - settings.PORTAL_SWEEP_INTERVAL / 2
    recent_check = Run.objects.filter(
        tenant=OuterRef("pk"),
        reason="drift",
        created_at__gt=now - timedelta(seconds=max(0, due_after)),
    )
    due = Tenant.objects.filter(state=Tenant.State.READY, desired_present=True).exclude(
        Exists(open_runs) | Exists(recent_check)
    )
    action = APPLY if settings.PORTAL_DRIFT_MODE == "repair" else CHECK
    for tenant in due.select_related("plan"):
        # run_request queues the tenant itself once the run row is committed.
        run_request(tenant=tenant, action=action, reason="drift")
