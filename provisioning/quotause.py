"""What the ready tenants use of their quotas: one cluster-wide list, one query of DB sizes."""

import logging
import time
from dataclasses import dataclass

from kubernetes.utils import parse_quantity

from provisioning import scanlists
from provisioning.drivers.kubernetes import make_driver
from provisioning.drivers.mariadb import MariaDB
from provisioning.errors import StepFailed, TransientError
from provisioning.manifests.namespace import QUOTA
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
class Measured:
    """One tenant's use and allowance per resource, in millicores, bytes or pods."""

    used: dict[str, int]
    hard: dict[str, int]


def _quantity(value, scale: int = 1) -> int | None:
    try:
        return int(parse_quantity(str(value)) * scale)
    except (ValueError, TypeError):
        return None


def _from_quota(quota: dict) -> tuple[dict, dict]:
    status = quota.get("status") or {}
    used, hard = {}, {}
    for name, key in QUOTA_RESOURCES.items():
        scale = _SCALE.get(name, 1)
        u = _quantity((status.get("used") or {}).get(key), scale)
        h = _quantity((status.get("hard") or {}).get(key), scale)
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


def measure(tenants: dict[str, tuple[str, int]]) -> dict[str, Measured]:
    """Use against allowance of the tenants given as slug -> (namespace, plan storage GiB);
    a tenant whose quota isn't counted yet is left out, and all are while Kubernetes can't be
    asked (or isn't configured: plan mode measures nothing)."""
    driver = make_driver()
    if driver is None or not tenants:
        return {}
    try:
        quotas = scanlists.listed(driver, "v1", "ResourceQuota", time.time()) or {}
    except (StepFailed, TransientError) as exc:
        log.warning("quotas not listed, no usage sampled: %s", exc)
        return {}
    sizes = database_sizes(list(tenants))
    out = {}
    for slug, (namespace, storage_gib) in tenants.items():
        quota = quotas.get((namespace, QUOTA))
        if quota is None:
            continue
        used, hard = _from_quota(quota)
        if slug in sizes:
            # Against the plan's storage: what the site may keep, the database beside its volume.
            used["database"], hard["database"] = sizes[slug], storage_gib * 2**30
        if used:
            out[slug] = Measured(used, hard)
    return out
