"""What the tenants' web pods really use: one cluster-wide list of the Metrics API."""

import logging
from dataclasses import dataclass

from kubernetes.utils import parse_quantity

from provisioning import scanlists
from provisioning.errors import StepFailed, TransientError
from provisioning.manifests.common import COMPONENT_WEB

log = logging.getLogger(__name__)

# The resource metrics pipeline's API, served by metrics-server through the API server's
# aggregation layer (kubernetes.io, "Resource metrics pipeline"). A cluster without it answers
# 404 for the whole group.
METRICS_API = "metrics.k8s.io/v1beta1"
# The site's web pods only: what the plan's replicas serve with. A backup, restore or install
# Job's pod carries the portal's label too, and its burst says nothing of the site's need.
# metrics-server filters by the pods' own labels.
SELECTOR = {**scanlists.SELECTOR, "app.kubernetes.io/component": COMPONENT_WEB}
NOT_SERVED = (
    "The cluster serves no Metrics API (metrics.k8s.io answered 404): metrics-server isn't "
    "installed."
)


def quantity(value, scale: int = 1) -> int | None:
    """A Kubernetes quantity ("12345678n", "250m", "123456Ki", "5Gi") times scale, as an int."""
    try:
        return int(parse_quantity(str(value)) * scale)
    except (ValueError, TypeError):
        return None


@dataclass(frozen=True)
class PodUse:
    """Per namespace, the web pods' CPU (millicores) and memory (bytes, the working set
    metrics-server reports) at the last scrape, and how many pods; or why there is none."""

    by_namespace: dict[str, tuple[int, int, int]]
    missing: str = ""  # why the Metrics API gave nothing ("" when it answered)


def pod_use(driver) -> PodUse:
    """One LIST of PodMetrics across namespaces by the web pods' labels, summed per namespace.
    metrics-server answers a list whole (it ignores limit); the driver still follows a
    continue token, should another implementation of the API page it."""
    try:
        items = driver.list_all(METRICS_API, "PodMetrics", SELECTOR, missing_ok=True)
    except (StepFailed, TransientError) as exc:
        log.warning("pod metrics not listed: %s", exc)
        return PodUse({}, f"The Metrics API didn't answer: {exc}")
    if items is None:
        return PodUse({}, NOT_SERVED)
    sums: dict[str, tuple[int, int, int]] = {}
    for item in items:
        namespace = (item.get("metadata") or {}).get("namespace", "")
        cpu, memory, pods = sums.get(namespace, (0, 0, 0))
        for container in item.get("containers") or []:
            usage = container.get("usage") or {}
            cpu += quantity(usage.get("cpu"), 1000) or 0
            memory += quantity(usage.get("memory")) or 0
        sums[namespace] = (cpu, memory, pods + 1)
    return PodUse(sums)
