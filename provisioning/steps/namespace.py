"""The namespace step: the tenant's Namespace, quota, limits, ServiceAccount and Secret."""

from provisioning import secrets as keys
from provisioning.manifests import namespace_manifests
from provisioning.steps.base import Outcome
from provisioning.steps.kube import KubeStep

# Every key the Secret comes to hold, shown as <generated> in a plan.
_SECRET_KEYS = (
    keys.DB_PASSWORD,
    *keys.WP_SALT_KEYS,
    keys.WP_ADMIN_PASSWORD,
    keys.OIDC_CLIENT_ID,
    keys.OIDC_CLIENT_SECRET,
    keys.S3_ACCESS_KEY_ID,
    keys.S3_SECRET_ACCESS_KEY,
)


class NamespaceStep(KubeStep):
    """Owns the tenant's Namespace (and so, on teardown, everything in it), its ResourceQuota,
    LimitRange, the WordPress ServiceAccount and the frame of the credentials Secret."""

    name = "namespace"
    title = "Namespace, quota, limits"

    def manifests(self) -> list[dict]:
        return namespace_manifests(self.spec)

    def plan_manifests(self) -> list[dict]:
        out = self.manifests()
        for manifest in out:
            if manifest["kind"] == "Secret":
                manifest["stringData"] = dict.fromkeys(_SECRET_KEYS, keys.PLACEHOLDER)
        return out

    def _live_namespace(self) -> dict | None:
        return self.driver.read("v1", "Namespace", self.spec.namespace)

    def live_check(self) -> list[str]:
        live = self._live_namespace()
        if live and live["metadata"].get("deletionTimestamp"):
            return [f"Namespace {self.spec.namespace} is being deleted"]
        return super().live_check()

    def live_apply(self) -> Outcome:
        live = self._live_namespace()
        if live and live["metadata"].get("deletionTimestamp"):
            # Nothing can be created in it until it is gone; then it is built anew.
            return Outcome.waiting(f"namespace {self.spec.namespace} is still being deleted")
        return super().live_apply()

    def live_destroy(self) -> Outcome:
        live = self._live_namespace()
        if live is None:
            return Outcome.done(f"namespace {self.spec.namespace} is gone")
        if not live["metadata"].get("deletionTimestamp"):
            self.driver.delete("v1", "Namespace", self.spec.namespace)
        return Outcome.waiting(f"namespace {self.spec.namespace} is terminating")
