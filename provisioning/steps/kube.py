"""What the Kubernetes steps share: manifests applied server-side, compared field by field."""

from typing import ClassVar

import yaml

from provisioning.drivers import kubernetes
from provisioning.schema import validate_all
from provisioning.steps.base import Outcome, Step


class KubeStep(Step):
    """A step owning a list of Kubernetes objects of the tenant (given by `manifests()`)."""

    plan_suffix = "yaml"
    # Kinds whose fields the portal takes back from anyone who changed them by hand (apply with
    # force): the objects that limit and isolate the tenant, where a hand edit would weaken the
    # platform's guarantees. For the workload a conflict stops the step instead, naming who owns
    # the field, so that a human decides (an operator's deliberate change, an autoscaler).
    force_kinds: ClassVar[frozenset[str]] = frozenset()

    def manifests(self) -> list[dict]:
        raise NotImplementedError

    def make_driver(self) -> kubernetes.KubeApi | None:
        return kubernetes.make_driver()

    def render(self) -> str:
        return yaml.safe_dump_all(self.plan_manifests(), sort_keys=False)

    def plan_manifests(self) -> list[dict]:
        return self.manifests()

    def pending(self, changing: bool) -> list[str]:
        """What still has to settle after an apply (a rollout, a Job); empty when nothing."""
        return []

    def _drifted(self) -> list[tuple[dict, list[str]]]:
        out = []
        for manifest in self.manifests():
            found = kubernetes.differences(manifest, self.driver.get(manifest))
            if found:
                out.append((manifest, found))
        return out

    def live_check(self) -> list[str]:
        found = [d for _, differences in self._drifted() for d in differences]
        return found + self.pending(changing=False)

    def live_apply(self) -> Outcome:
        manifests = self.manifests()
        validate_all(manifests)
        applied = []
        for manifest, _ in self._drifted():
            self.driver.apply(manifest, force=manifest["kind"] in self.force_kinds)
            applied.append(f"{manifest['kind']} {manifest['metadata']['name']}")
        if applied:
            self.ctx.log("applied " + ", ".join(applied))
        waiting = self.pending(changing=True)
        if waiting:
            return Outcome.waiting("; ".join(waiting))
        return Outcome.done(f"{len(applied)} object(s) applied" if applied else "")
