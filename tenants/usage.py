"""Usage samples: each ready tenant's use against its plan, taken by the beat, kept a window."""

from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from provisioning.quotause import Allowance, measure
from tenants.models import Tenant, UsageSample


def _window() -> timedelta:
    return timedelta(days=settings.PORTAL_UPSIZE_RULE_WINDOW_DAYS)


def _allowance(tenant: Tenant) -> Allowance:
    plan = tenant.plan
    return Allowance(
        namespace=tenant.namespace,
        storage_gib=max(plan.storage_gib, tenant.volume_gib),
        cpu_millicores=plan.replicas * plan.cpu_limit_millicores,
        memory_bytes=plan.replicas * plan.memory_limit_mib * 2**20,
    )


def usage_sample_all() -> int:
    """Sample every ready, serving tenant once (suspended ones use nothing that says anything
    about their need), then drop the samples older than the rule's window; how many taken."""
    tenants = list(
        Tenant.objects.filter(
            state=Tenant.State.READY, desired_present=True, suspended_at__isnull=True
        ).select_related("plan")
    )
    found = measure({t.slug: _allowance(t) for t in tenants})
    now = timezone.now()
    UsageSample.objects.bulk_create(
        UsageSample(
            tenant=t, plan=t.plan, taken_at=now, used=m.used, hard=m.hard, use_note=m.note[:300]
        )
        for t in tenants
        if (m := found.get(t.slug)) is not None
    )
    UsageSample.objects.filter(taken_at__lt=now - _window() - timedelta(days=1)).delete()
    return sum(1 for t in tenants if t.slug in found)


def samples_in_window(tenant: Tenant, now=None) -> list[UsageSample]:
    """The tenant's samples of the last window on its current plan, oldest first."""
    now = now or timezone.now()
    return list(
        UsageSample.objects.filter(
            tenant=tenant, plan_id=tenant.plan_id, taken_at__gte=now - _window()
        ).order_by("taken_at")
    )
