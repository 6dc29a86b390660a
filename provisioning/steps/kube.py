"""What the Kubernetes steps share: manifests applied server-side, drift found by a dry run."""

import yaml

from provisioning.drivers import kubernetes
from provisioning.schema import validate_all
from provisioning.steps.base import Outcome, Step


class KubeStep(Step):
    """A step owning a list of Kubernetes objects of the tenant (given by `manifests()`)."""

    plan_suffix = "yaml"

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

    def _drifted(self, manifests: list[dict] | None = None) -> list[tuple[dict, list[str]]]:
        """The manifests (default: all) an apply would change, with what it would change: the API
        server's own answer to a dry-run apply, compared with the stored object (no write when
        they match)."""
        out = []
        for manifest in self.manifests() if manifests is None else manifests:
            live = self.driver.get(manifest)
            would_be = self.driver.apply(manifest, dry_run=True) if live is not None else manifest
            found = kubernetes.differences(would_be, live)
            if found:
                out.append((manifest, found))
        return out

    def live_check(self) -> list[str]:
        # Kept for the apply that follows the check in the same pass: each object read once.
        self._checked = self._drifted()
        found = [d for _, differences in self._checked for d in differences]
        return found + self.pending(changing=False)

    def live_apply(self) -> Outcome:
        manifests = self.manifests()
        validate_all(manifests)
        applied = []
        drifted = self.__dict__.pop("_checked", None)
        for manifest, _ in self._drifted() if drifted is None else drifted:
            self.driver.apply(manifest)
            applied.append(f"{manifest['kind']} {manifest['metadata']['name']}")
        if applied:
            self.ctx.log("applied " + ", ".join(applied))
        waiting = self.pending(changing=True)
        if waiting:
            return Outcome.waiting("; ".join(waiting))
        return Outcome.done(f"{len(applied)} object(s) applied" if applied else "")
