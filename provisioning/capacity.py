"""How much of the cluster the live tenants' plans already claim, for the approval screen."""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, Sum

from tenants.models import Tenant


@dataclass(frozen=True)
class CapacityHint:
    cpu_committed_millicores: int
    memory_committed_mib: int
    cpu_after_millicores: int
    memory_after_mib: int
    cpu_total_millicores: int
    memory_total_mib: int

    @property
    def cpu_percent_after(self) -> int:
        return round(100 * self.cpu_after_millicores / self.cpu_total_millicores)

    @property
    def memory_percent_after(self) -> int:
        return round(100 * self.memory_after_mib / self.memory_total_mib)

    @property
    def fits(self) -> bool:
        return self.cpu_percent_after <= 100 and self.memory_percent_after <= 100


def plan_capacity_hint(plan, replacing=None) -> CapacityHint | None:
    """What approving one more tenant of this plan would claim (or moving the tenant
    `replacing` to it); None if capacity is unknown."""
    cpu_total = settings.PORTAL_CLUSTER_CPU_MILLICORES
    memory_total = settings.PORTAL_CLUSTER_MEMORY_MIB
    if not cpu_total or not memory_total:
        return None
    live = Tenant.objects.filter(
        state__in=[
            Tenant.State.APPROVED,
            Tenant.State.PROVISIONING,
            Tenant.State.READY,
            Tenant.State.FAILED,
        ]
    )
    if replacing is not None:
        live = live.exclude(pk=replacing.pk)
    sums = live.aggregate(
        cpu=Sum(F("plan__cpu_request_millicores") * F("plan__replicas")),
        memory=Sum(F("plan__memory_request_mib") * F("plan__replicas")),
    )
    cpu, memory = sums["cpu"] or 0, sums["memory"] or 0
    return CapacityHint(
        cpu_committed_millicores=cpu,
        memory_committed_mib=memory,
        cpu_after_millicores=cpu + plan.cpu_request_millicores * plan.replicas,
        memory_after_mib=memory + plan.memory_request_mib * plan.replicas,
        cpu_total_millicores=cpu_total,
        memory_total_mib=memory_total,
    )
