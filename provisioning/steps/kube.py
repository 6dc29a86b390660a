"""What the Kubernetes steps share: manifests applied server-side, drift found by a dry run."""

import yaml

from provisioning import scanlists
from provisioning.drivers import kubernetes
from provisioning.schema import validate_all
from provisioning.steps.base import Outcome, Step


class PassView:
    """What one pass learnt of the cluster, for the Kubernetes steps after the one that learnt
    it: each object as the API last answered it (read or applied), and the namespaces the pass
    created, in which nothing exists that the pass didn't apply itself. Rollouts and Jobs are
    read again on every pass: a view never outlives its pass (issue 14: each object read at
    most once a pass, none in a namespace just made)."""

    def __init__(self):
        self.objects: dict[tuple, dict | None] = {}
        self.lists: dict[tuple, list[dict]] = {}
        self.fresh: set[str] = set()
        self.scanned: set[tuple] = set()  # the objects taken from a drift scan's lists


def object_key(manifest: dict) -> tuple:
    meta = manifest["metadata"]
    return (manifest["apiVersion"], manifest["kind"], meta.get("namespace", ""), meta["name"])


class KubeStep(Step):
    """A step owning a list of Kubernetes objects of the tenant (given by `manifests()`)."""

    plan_suffix = "yaml"
    look_in: float | None = None  # set by pending() for what it has just started

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

    # --- the pass's view of the cluster ---------------------------------------------------------

    @property
    def view(self) -> PassView:
        if self.ctx.shared is not None:
            return self.ctx.shared.setdefault("kubernetes", PassView())
        if "_own_view" not in self.__dict__:
            self._own_view = PassView()
        return self._own_view

    def check(self) -> list[str]:
        self._afresh()
        if not (self.ctx.shared or {}).get("drift scan"):
            return super().check()
        self._scan_check = True  # the scan's lists serve this check only, never an apply
        try:
            found = super().check()
            if found:
                # A scan's list may be older than the object: a difference counts only once
                # the objects it came from are read afresh (a clean tenant costs no read).
                self._unscan()
                self._scan_check = False
                found = super().check()
        finally:
            self._scan_check = False
            self._unscan()  # what comes after the check (an apply, a settle) reads afresh
        return found

    def _unscan(self) -> None:
        for key in self.view.scanned:
            self.view.objects.pop(key, None)
        self.view.scanned.clear()
        self.view.lists.clear()

    def _scanning(self) -> bool:
        """True in a drift scan's check (not while a difference is read again)."""
        return bool(self.__dict__.get("_scan_check"))

    def _scanned(self, api_version: str, kind: str) -> dict | None:
        """The drift scan's cluster-wide list of a kind; None outside a scan or for a kind read
        in its own namespace only (Secrets)."""
        if not self._scanning():
            return None
        return scanlists.listed(self.driver, api_version, kind, self.ctx.shared["drift scan"])

    def apply(self) -> Outcome:
        self._afresh()
        return super().apply()

    def destroy(self) -> Outcome:
        self._afresh()
        return super().destroy()

    def settle(self) -> Outcome:
        self._afresh()
        if self.planning:
            return super().settle()
        # Everything was applied by the pass that began the wait: only what it waits for is
        # read again, not every object read and dry-run once more on every look.
        return self._settled("")

    def _afresh(self) -> None:
        """Without a pass to share (a step called by hand), each call reads anew."""
        if self.ctx.shared is None:
            self.__dict__.pop("_own_view", None)

    def live(self, manifest: dict) -> dict | None:
        """The stored object of the manifest, read once a pass (None when there is none)."""
        key = object_key(manifest)
        if key in self.view.objects:
            return self.view.objects[key]
        if key[2] in self.view.fresh:
            return None  # in a namespace this pass made: only what it applied is there
        scanned = self._scanned(key[0], key[1])
        if scanned is not None:
            self.view.scanned.add(key)
            self.view.objects[key] = scanned.get(key[2:])
            return self.view.objects[key]
        found = self.view.objects[key] = self.driver.get(manifest)
        return found

    def read(self, api_version: str, kind: str, name: str) -> dict | None:
        """An object of the tenant's namespace by name, read once a pass."""
        meta = {"name": name, "namespace": self.spec.namespace}
        return self.live({"apiVersion": api_version, "kind": kind, "metadata": meta})

    def fresh(self) -> bool:
        """True when this pass made the tenant's namespace: nothing in it to read or list."""
        return self.spec.namespace in self.view.fresh

    def listed(self, api_version: str, kind: str, selector: dict) -> list[dict]:
        """The tenant namespace's objects of a kind by label selector, listed once a pass."""
        key = (api_version, kind, tuple(sorted(selector.items())))
        lists = self.view.lists
        if key not in lists:
            ns = self.spec.namespace
            scanned = self._scanned(api_version, kind)
            if self.fresh():
                lists[key] = []
            elif scanned is not None:
                lists[key] = [
                    o
                    for (namespace, _), o in scanned.items()
                    if namespace == ns and selector.items() <= o["metadata"]["labels"].items()
                ]
            else:
                lists[key] = self.driver.list(api_version, kind, ns, selector)
        return lists[key]

    def forget(self, api_version: str, kind: str, name: str) -> None:
        """An object this pass deleted: read it again if anybody asks."""
        self.view.objects.pop((api_version, kind, self.spec.namespace, name), None)

    def put(self, manifest: dict) -> dict:
        """Server-side apply, the answer kept as what the object now is."""
        answer = self.driver.apply(manifest)
        self.view.objects[object_key(manifest)] = answer
        return answer

    # --- check and apply ------------------------------------------------------------------------

    def _drifted(self, manifests: list[dict] | None = None) -> list[tuple[dict, list[str]]]:
        """The manifests (default: all) an apply would change, with what it would change: the API
        server's own answer to a dry-run apply, compared with the stored object (no write when
        they match)."""
        out = []
        for manifest in self.manifests() if manifests is None else manifests:
            live = self.live(manifest)
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
            self.put(manifest)
            applied.append(f"{manifest['kind']} {manifest['metadata']['name']}")
        if applied:
            self.ctx.log("applied " + ", ".join(applied))
        return self._settled(f"{len(applied)} object(s) applied" if applied else "")

    def _settled(self, done: str) -> Outcome:
        self.look_in = None
        waiting = self.pending(changing=True)
        if waiting:
            return Outcome.waiting("; ".join(waiting), self.look_in)
        return Outcome.done(done)
