"""What the ready tenants use of their plans: cluster-wide lists, one query of DB sizes."""

import logging
import time
from dataclasses import dataclass

from provisioning import scanlists
from provisioning.drivers.kubernetes import make_driver
from provisioning.drivers.mariadb import MariaDB
from provisioning.errors import StepFailed, TransientError
from provisioning.manifests.namespace import QUOTA
from provisioning.podmetrics import pod_use, quantity
from provisioning.spec import db_name_for

log = logging.getLogger(__name__)

# The quota's resources a sample keeps, by the name the rule gives them. Only requests: a
# limit is what a pod may burst to, not what it holds.
QUOTA_RESOURCES = {
    "cpu": "requests.cpu",
    "memory": "requests.memory",
    "pods": "pods",
    "storage": "requests.storage",
}
_SCALE = {"cpu": 1000}  # CPU in millicores, the rest in their base unit (bytes, pods)


@dataclass(frozen=True)
class Allowance:
    """What a tenant's plan lets it have, for the measures that aren't the quota's own.

    Real CPU and memory use is set against the plan's replicas at their container limits, not
    against the quota's limits.cpu / limits.memory: the quota leaves room for a surge pod and
    the install Job beside the replicas (manifests/namespace.py), so a site whose every pod
    runs at its limit would stand at 1 / 3 of the quota on one replica and could never reach
    the rule's threshold. The replicas' limits are the most the running site can use (its
    containers are throttled or killed there), so that is "its quota" for real use."""

    namespace: str
    storage_gib: int
    cpu_millicores: int
    memory_bytes: int


@dataclass(frozen=True)
class Measured:
    """One tenant's use and allowance per resource, in millicores, bytes or pods; and why its
    real CPU and memory use is missing, if it is."""

    used: dict[str, int]
    hard: dict[str, int]
    note: str = ""


def _from_quota(quota: dict) -> tuple[dict, dict]:
    status = quota.get("status") or {}
    used, hard = {}, {}
    for name, key in QUOTA_RESOURCES.items():
        scale = _SCALE.get(name, 1)
        u = quantity((status.get("used") or {}).get(key), scale)
        h = quantity((status.get("hard") or {}).get(key), scale)
        if u is not None and h:  # a quota the controller hasn't counted yet says nothing
            used[name], hard[name] = u, h
    return used, hard


def database_sizes(slugs: list[str]) -> dict[str, int]:
    """Bytes of each tenant's database (tables and indexes, as information_schema counts
    them), by slug; {} without MariaDB or while it can't be asked."""
    db = MariaDB.from_settings()
    if db is None or not slugs:
        return {}
    by_name = {db_name_for(slug): slug for slug in slugs}
    try:
        with db.session() as session:
            rows = session.rows(
                "SELECT table_schema, SUM(data_length + index_length)"
                " FROM information_schema.TABLES GROUP BY table_schema"
            )
    except (StepFailed, TransientError) as exc:
        log.warning("database sizes not measured: %s", exc)
        return {}
    return {by_name[name]: int(size or 0) for name, size in rows if name in by_name}


def _use_note(use, namespace: str) -> str:
    if use.missing:
        return use.missing
    if namespace not in use.by_namespace:
        return (
            "The Metrics API had no figures for the site's pods (metrics-server reports a "
            "running pod from its second scrape on)."
        )
    return ""


def measure(tenants: dict[str, Allowance]) -> dict[str, Measured]:
    """Use against allowance of the tenants given by slug; a tenant whose quota isn't counted
    yet is left out, and all are while Kubernetes can't be asked (or isn't configured: plan
    mode measures nothing). Real CPU and memory use comes from one list of the Metrics API;
    without it a sample says why, and has the quota's requests only."""
    driver = make_driver()
    if driver is None or not tenants:
        return {}
    try:
        quotas = scanlists.listed(driver, "v1", "ResourceQuota", time.time()) or {}
    except (StepFailed, TransientError) as exc:
        log.warning("quotas not listed, no usage sampled: %s", exc)
        return {}
    use = pod_use(driver)
    sizes = database_sizes(list(tenants))
    out = {}
    for slug, allowance in tenants.items():
        quota = quotas.get((allowance.namespace, QUOTA))
        if quota is None:
            continue
        used, hard = _from_quota(quota)
        note = _use_note(use, allowance.namespace)
        if not note:
            cpu, memory, _ = use.by_namespace[allowance.namespace]
            used["cpu_use"], hard["cpu_use"] = cpu, allowance.cpu_millicores
            used["memory_use"], hard["memory_use"] = memory, allowance.memory_bytes
        if slug in sizes:
            # Against the plan's storage: what the site may keep, the database beside its volume.
            used["database"], hard["database"] = sizes[slug], allowance.storage_gib * 2**30
        if used:
            out[slug] = Measured(used, hard, note)
    return out
