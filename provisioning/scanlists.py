"""The drift scan's view of the cluster: the portal's objects of a kind, listed cluster-wide."""

import threading
import time

from django.conf import settings

# The kinds a drift check compares that may be listed across namespaces: never Secrets (read
# in their own namespace only), all by the label every object of the portal carries.
LISTED = frozenset(
    {
        ("v1", "Namespace"),
        ("v1", "ResourceQuota"),
        ("v1", "LimitRange"),
        ("v1", "ServiceAccount"),
        ("v1", "Service"),
        ("v1", "PersistentVolumeClaim"),
        ("apps/v1", "Deployment"),
        ("batch/v1", "Job"),
        ("networking.k8s.io/v1", "Ingress"),
        ("networking.k8s.io/v1", "NetworkPolicy"),
        ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    }
)
SELECTOR = {"app.kubernetes.io/managed-by": "tenant-portal"}

_lock = threading.Lock()
_lists: dict[tuple, tuple[float, dict[tuple, dict]]] = {}


def listed(driver, api_version: str, kind: str, since: float) -> dict[tuple, dict] | None:
    """The portal's objects of a kind by (namespace, name), as one cluster-wide list (paged)
    taken since `since` (epoch seconds: when the check was asked for) and at most
    PORTAL_DRIFT_LIST_SECONDS ago; None for a kind not listed so."""
    if (api_version, kind) not in LISTED:
        return None
    key = (driver.api.configuration.host, api_version, kind)  # one cache per cluster
    now = time.time()
    with _lock:
        found = _lists.get(key)
        if found and since <= found[0] and now - found[0] < settings.PORTAL_DRIFT_LIST_SECONDS:
            return found[1]
    items = driver.list_all(api_version, kind, SELECTOR)
    objects = {(o["metadata"].get("namespace", ""), o["metadata"]["name"]): o for o in items}
    with _lock:
        _lists[key] = (now, objects)
    return objects


def forget() -> None:
    """Every list dropped: the next drift check lists again (a test, a new cluster)."""
    with _lock:
        _lists.clear()
