"""The network step: the tenant's NetworkPolicies (default deny, then what WordPress needs)."""

from provisioning.manifests import network_manifests
from provisioning.steps.base import Outcome
from provisioning.steps.kube import KubeStep


class NetworkStep(KubeStep):
    """Owns the tenant's NetworkPolicies."""

    name = "network"
    title = "Network policies"

    def manifests(self) -> list[dict]:
        return network_manifests(self.spec)

    def live_destroy(self) -> Outcome:
        # The policies live in the tenant's namespace: the namespace step's deletion (the last
        # step of a teardown) removes them with it.
        return Outcome.done("removed with the namespace")
