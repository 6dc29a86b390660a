"""How much of the cluster the live tenants' plans already claim, for the approval screen."""

from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db.models import F, Sum

from provisioning.drivers.ionos import IonosApi, NodePool
from provisioning.errors import StepFailed, TransientError
from tenants.models import Tenant

# Seconds the node pools' figures are kept: every approval page would otherwise ask IONOS.
LIVE_SECONDS = 60


@dataclass(frozen=True)
class ClusterSize:
    cpu_millicores: int
    memory_mib: int
    note: str  # where the figures come from, in a sentence


def _pools_sentence(pools: list[NodePool]) -> str:
    def one(p: NodePool) -> str:
        scaling = (
            f", autoscaling {p.autoscaling[0]}–{p.autoscaling[1]} nodes" if p.autoscaling else ""
        )
        nodes = f"{p.nodes} node" + ("s" if p.nodes != 1 else "")
        return f"{p.name}: {nodes} of {p.cores} cores and {p.ram_mib // 1024} GiB{scaling}"

    return "Live from the IONOS node pools (" + "; ".join(one(p) for p in pools) + ")."


def cluster_size() -> ClusterSize | None:
    """The node pools' cores and RAM from the IONOS API; else the settings, saying why."""
    configured = ClusterSize(
        settings.PORTAL_CLUSTER_CPU_MILLICORES,
        settings.PORTAL_CLUSTER_MEMORY_MIB,
        "From the settings (PORTAL_CLUSTER_CPU_MILLICORES, PORTAL_CLUSTER_MEMORY_MIB): "
        "the IONOS API is not configured.",
    )
    api, cluster = IonosApi.from_settings(), settings.PORTAL_IONOS_CLUSTER_ID
    if api is None or not cluster:
        return configured if configured.cpu_millicores and configured.memory_mib else None
    key = f"portal:capacity:{cluster}"
    live = cache.get(key)
    if live is None:
        try:
            pools = api.node_pools(cluster)
        except (StepFailed, TransientError) as exc:
            return ClusterSize(
                configured.cpu_millicores,
                configured.memory_mib,
                f"From the settings: the IONOS API could not be asked ({exc}).",
            )
        live = ClusterSize(
            sum(p.nodes * p.cores * 1000 for p in pools),
            sum(p.nodes * p.ram_mib for p in pools),
            _pools_sentence(pools),
        )
        cache.set(key, live, LIVE_SECONDS)
    return live if live.cpu_millicores and live.memory_mib else None


@dataclass(frozen=True)
class CapacityHint:
    cpu_committed_millicores: int
    memory_committed_mib: int
    cpu_after_millicores: int
    memory_after_mib: int
    cpu_total_millicores: int
    memory_total_mib: int
    note: str = ""

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
    size = cluster_size()
    if size is None:
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
        cpu_total_millicores=size.cpu_millicores,
        memory_total_mib=size.memory_mib,
        note=size.note,
    )
