"""What the periodic sweep finds: runs nobody is working on, and tenants due a drift check."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Now
from django.utils import timezone

from provisioning.models import Run
from provisioning.runs import APPLY, CHECK, run_request
from tenants.models import Tenant


def tenants_needing_attention() -> list[int]:
    now = timezone.now()
    open_runs = Run.objects.filter(tenant=OuterRef("pk"), status__in=Run.OPEN)
    unlocked = Q(lock_holder="") | Q(
        lock_expires_at__lt=Now()
    )  # the database's clock, as the lease
    # Runs whose worker died, or whose re-queued message was lost: just queue them again.
    stalled = list(
        Tenant.objects.filter(unlocked)
        .filter(Exists(open_runs.filter(Q(not_before__isnull=True) | Q(not_before__lte=now))))
        .values_list("pk", flat=True)
    )
    recent_check = Run.objects.filter(
        tenant=OuterRef("pk"),
        reason="drift",
        created_at__gt=now - timedelta(seconds=settings.PORTAL_DRIFT_INTERVAL * 0.9),
    )
    due = Tenant.objects.filter(state=Tenant.State.READY, desired_present=True).exclude(
        Exists(open_runs) | Exists(recent_check)
    )
    action = APPLY if settings.PORTAL_DRIFT_MODE == "repair" else CHECK
    for tenant in due.select_related("plan"):
        # run_request queues the tenant itself once the run row is committed.
        run_request(tenant=tenant, action=action, reason="drift")
    return stalled
