"""The namespace step: the tenant's Namespace, quota, limits, ServiceAccount and Secret."""

from provisioning import secrets as keys
from provisioning.drivers import kubernetes
from provisioning.errors import StepFailed
from provisioning.manifests import namespace_manifests
from provisioning.steps.base import Looked, Outcome
from provisioning.steps.kube import KubeStep, object_key

# The label that makes a namespace the tenant's: without it (a namespace someone else made, or
# another tenant's) the portal neither adopts nor deletes it.
OWNER_LABEL = "portal.wp.ionos/tenant"

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
    # What must exist before anything inside the namespace can be read or written: the
    # portal's rights there come from its RoleBinding (it holds none cluster-wide).
    bootstrap_kinds = frozenset({"Namespace", "RoleBinding"})

    def manifests(self) -> list[dict]:
        return namespace_manifests(self.spec)

    def plan_manifests(self) -> list[dict]:
        out = self.manifests()
        for manifest in out:
            if manifest["kind"] == "Secret":
                manifest["stringData"] = dict.fromkeys(_SECRET_KEYS, keys.PLACEHOLDER)
        return out

    def _live_namespace(self) -> dict | None:
        return self.live(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": self.spec.namespace}}
        )

    def _bootstrap(self) -> list[dict]:
        return [m for m in self.manifests() if m["kind"] in self.bootstrap_kinds]

    def _ours(self, live: dict) -> bool:
        return (live["metadata"].get("labels") or {}).get(OWNER_LABEL) == self.spec.slug

    def _refuse_foreign(self, live: dict | None) -> None:
        if live is not None and not self._ours(live):
            owner = (live["metadata"].get("labels") or {}).get(OWNER_LABEL)
            whose = f"tenant {owner}'s" if owner else "not the portal's"
            raise StepFailed(
                f"Namespace {self.spec.namespace} already exists and is {whose} (it has no "
                f"label {OWNER_LABEL}={self.spec.slug}); nothing was changed. Remove or rename "
                "it, or give the tenant another slug."
            )

    def live_check(self) -> list[str]:
        live = self._live_namespace()
        self._refuse_foreign(live)
        if live and live["metadata"].get("deletionTimestamp"):
            return [f"Namespace {self.spec.namespace} is being deleted"]
        for manifest in self._bootstrap():
            if self.live(manifest) is None:
                # Without it the portal may not even look inside: the rest counts as missing.
                return kubernetes.differences(manifest, None)
        found = super().live_check()
        self._seed_secrets()
        return found

    def live_apply(self) -> Outcome:
        live = self._live_namespace()
        self._refuse_foreign(live)
        if live and live["metadata"].get("deletionTimestamp"):
            # Nothing can be created in it until it is gone; then it is built anew.
            return Outcome.waiting(f"namespace {self.spec.namespace} is still being deleted")
        if live is None:
            # Nothing is in a namespace that isn't there: this pass makes all of it, unread.
            self.view.fresh.add(self.spec.namespace)
        bootstrapped = self._drifted(self._bootstrap())
        for manifest, _ in bootstrapped:
            self.put(manifest)
            self.ctx.log(f"applied {manifest['kind']} {manifest['metadata']['name']} first")
        if bootstrapped and "_checked" not in self.__dict__:
            # The check stopped at the missing bootstrap: read the rest once here, without
            # reading again (and dry-running) what was just applied.
            rest = [m for m in self.manifests() if m["kind"] not in self.bootstrap_kinds]
            self._checked = self._drifted(rest)
        outcome = super().live_apply()
        self._seed_secrets()
        # The credentials the later steps would otherwise each write key by key (issue 14).
        keys.ensure_all(self.ctx.secrets, keys.GENERATED)
        return outcome

    def settle(self) -> Outcome:
        return self.apply()  # the namespace's deletion ended: build it anew

    def _seed_secrets(self) -> None:
        """The Secret as this pass read or applied it is what the credential store holds: no
        read of its own."""
        secret = next(m for m in self.manifests() if m["kind"] == "Secret")
        live = self.view.objects.get(object_key(secret))
        seed = getattr(self.ctx.secrets, "seed", None)
        if live is not None and seed is not None:
            seed(live)

    def live_destroy(self) -> Outcome:
        live = self._live_namespace()
        if live is None:
            return Outcome.done(f"namespace {self.spec.namespace} is gone")
        if not self._ours(live):
            return Outcome.done(f"namespace {self.spec.namespace} is not the tenant's: left alone")
        if not live["metadata"].get("deletionTimestamp"):
            self.driver.delete("v1", "Namespace", self.spec.namespace)
        return Outcome.waiting(f"namespace {self.spec.namespace} is terminating")

    def live_gone(self) -> list[Looked]:
        # Read afresh, not from the pass's view: what the API server answers now (a 404).
        ns = self.spec.namespace
        live = self.driver.read("v1", "Namespace", ns)
        what = f"namespace {ns} and everything in it"
        if live is None:
            return [Looked(what)]
        terminating = " (terminating)" if live["metadata"].get("deletionTimestamp") else ""
        return [Looked(what, f"namespace {ns}{terminating}", ours=self._ours(live))]
