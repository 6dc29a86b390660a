"""The wordpress step: credentials, workload, Service, volume, Ingress, install and db Jobs."""

from datetime import datetime

from kubernetes.utils import parse_quantity

from provisioning import secrets as keys
from provisioning.drivers.mariadb import MariaDB
from provisioning.errors import StepFailed, TransientError
from provisioning.manifests import wordpress_manifests
from provisioning.manifests.common import COMPONENT_INSTALL, selector
from provisioning.manifests.wordpress import (
    CONTENT_CLAIM,
    MAINTENANCE,
    NAME,
    PIPELINE_CREDENTIALS,
    POD_CREDENTIALS,
    install_job,
    update_db_job,
)
from provisioning.schema import validate_all
from provisioning.steps.base import Outcome
from provisioning.steps.kube import KubeStep

_GENERATED = {key: keys.GENERATED[key] for key in (*keys.WP_SALT_KEYS, keys.WP_ADMIN_PASSWORD)}


def _condition(obj: dict, kind: str) -> dict | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == kind and condition.get("status") == "True":
            return condition
    return None


def _took(job: dict) -> float | None:
    """Seconds from a finished Job's start to its completion (whole seconds, as Kubernetes
    stamps them), or None when it doesn't say."""
    status = job.get("status") or {}
    try:
        start, end = (datetime.fromisoformat(status[k]) for k in ("startTime", "completionTime"))
    except (KeyError, TypeError, ValueError):
        return None
    return max(0.0, (end - start).total_seconds())


def rollout_waiting(deployment: dict) -> str | None:
    """Why the Deployment isn't rolled out yet, or None when it is."""
    status = deployment.get("status") or {}
    if status.get("observedGeneration", 0) < deployment["metadata"].get("generation", 1):
        return "the Deployment's new configuration is not picked up yet"
    for condition in status.get("conditions") or []:
        if condition.get("reason") == "ProgressDeadlineExceeded":
            raise StepFailed(f"WordPress didn't roll out: {condition.get('message', '')}")
    want = deployment["spec"].get("replicas", 1)
    updated, available = status.get("updatedReplicas", 0), status.get("availableReplicas", 0)
    if updated < want:
        return f"{updated} of {want} WordPress pods updated"
    if status.get("replicas", 0) > updated:
        return "old WordPress pods are still stopping"
    if available < want:
        return f"{available} of {want} WordPress pods ready"
    return None


def schema_version(spec) -> str:
    """ "; db_version N" as the site's database says after its update (the number WordPress
    keeps for its schema), or "" where the portal can't read it."""
    database = MariaDB.from_settings()
    if database is None:
        return ""
    try:
        # The name is the portal's own (wp_ and the slug's letters, digits and underscores).
        table = f"`{spec.db_name}`.wp_options"
        with database.session() as session:
            rows = session.rows(
                f"SELECT option_value FROM {table} WHERE option_name = %s",  # noqa: S608
                ["db_version"],
            )
    except (StepFailed, TransientError):
        return ""  # only the log's detail: the Job's outcome is what counts
    return f"; db_version {rows[0][0]}" if rows else ""


class WordPressStep(KubeStep):
    """Owns WordPress: its generated keys and admin password (in the tenant's Secret), the
    Deployment, Service, content PersistentVolumeClaim, Ingress and the install Job."""

    name = "wordpress"
    title = "WordPress"
    _kept_size: str | None = None  # the live volume size kept when a resize can't happen now
    _size_checked = False

    def manifests(self) -> list[dict]:
        # The credentials' fingerprint in the pod template: a key the storage step replaced, a
        # password the database step reset or a new OIDC secret restarts the pods.
        # The pipeline's only while it is on: tenants without it keep their fingerprint.
        pipeline = PIPELINE_CREDENTIALS if self.spec.pipeline else ()
        credentials = keys.fingerprint(self.ctx.secrets, POD_CREDENTIALS + pipeline)
        out = wordpress_manifests(self.spec, credentials)
        claim = next(m for m in out if m["kind"] == "PersistentVolumeClaim")
        self._keep_volume_size(claim)
        return out

    def _keep_volume_size(self, claim: dict) -> None:
        """A volume resize the cluster can't make now leaves the claim at its size (and says
        why) so that the rest of a plan change still applies."""
        if self.planning:
            return
        requests = claim["spec"]["resources"]["requests"]
        if not self._size_checked:
            self._size_checked = True
            note = self._resize_refusal(claim)
            if note:
                self.ctx.log(note)
        if self._kept_size:
            requests["storage"] = self._kept_size

    def _resize_refusal(self, claim: dict) -> str:
        live = self.read("v1", "PersistentVolumeClaim", CONTENT_CLAIM)
        if live is None:
            return ""
        have = live["spec"]["resources"]["requests"]["storage"]
        want = claim["spec"]["resources"]["requests"]["storage"]
        if parse_quantity(want) == parse_quantity(have):
            return ""
        self._kept_size = have
        if parse_quantity(want) < parse_quantity(have):
            return f"the volume stays at {have}: a volume never shrinks (the plan has {want})"
        phase = (live.get("status") or {}).get("phase", "Pending")
        if phase != "Bound":
            # A real API server refuses any size change of a claim not bound yet (422).
            return (
                f"the volume stays at {have} for now, not {want}: a claim is resized only once "
                f"it is bound, and this one is {phase}; the next reconcile tries again"
            )
        try:
            # Admission answers a dry run as it would the write: a class without
            # allowVolumeExpansion is refused here.
            self.driver.apply({**claim, "spec": {**claim["spec"]}}, dry_run=True)
        except StepFailed as exc:
            return f"the volume stays at {have}, not {want}: the cluster refused to grow it ({exc})"
        self._kept_size = None
        return ""

    def _job(self) -> dict:
        return install_job(self.spec)  # its name needs neither the credentials nor the volume

    def _stale_jobs(self) -> list[str]:
        current = self._job()["metadata"]["name"]
        jobs = self.listed("batch/v1", "Job", selector(self.spec, COMPONENT_INSTALL))
        return [j["metadata"]["name"] for j in jobs if j["metadata"]["name"] != current]

    def live_check(self) -> list[str]:
        missing = [
            f"credential {key} not generated yet" for key in _GENERATED if not self._has(key)
        ]
        stale = [f"old install Job {name} still there" for name in self._stale_jobs()]
        if self._leftover_maintenance():
            stale.append(f"Service {MAINTENANCE} left from a suspension")
        return missing + super().live_check() + stale

    def _leftover_maintenance(self) -> bool:
        if self.spec.suspended:
            return False
        return self.read("v1", "Service", MAINTENANCE) is not None

    def _has(self, key: str) -> bool:
        return self.ctx.secrets.get(key) is not None

    def live_apply(self) -> Outcome:
        # Stored (in one write) before any pod can need them.
        keys.ensure_all(self.ctx.secrets, _GENERATED)
        stale = self._stale_jobs()
        for name in stale:
            self.driver.delete("batch/v1", "Job", name, self.spec.namespace, "Background")
        if stale:
            self.view.lists.clear()  # listed again if anybody asks
        outcome = super().live_apply()
        # After the apply: the Ingress points at the site's own Service again by now.
        if self._leftover_maintenance():
            self.driver.delete("v1", "Service", MAINTENANCE, self.spec.namespace)
            self.forget("v1", "Service", MAINTENANCE)
        return outcome

    def pending(self, changing: bool) -> list[str]:
        out = []
        # As this pass last had it: the answer of its apply, or one read (a new pass, a new
        # read: the view lives one pass).
        deployment = self.read("apps/v1", "Deployment", NAME)
        if deployment is not None:
            try:
                reason = rollout_waiting(deployment)
            except StepFailed as exc:
                if changing:
                    raise
                # A check reports a failed rollout as a difference, so that the apply after it
                # can roll again (a rollback to the image that worked).
                reason = str(exc)
            if reason:
                out.append(reason)
        job_name = self._job()["metadata"]["name"]
        job = self.read("batch/v1", "Job", job_name)
        if job is None:
            return out
        failed = _condition(job, "Failed")
        if failed and changing:
            self._drop_failed(job_name)
            raise StepFailed(
                f"the WordPress install Job {job_name} failed "
                f"({failed.get('reason', 'unknown')}): {failed.get('message', '')}"
            )
        if failed:
            out.append(f"the install Job {job_name} failed ({failed.get('reason', 'unknown')})")
        elif not _condition(job, "Complete"):
            out.append(f"the install Job {job_name} is still running")
        # The schema update needs the installed site and comes after the rollout: the new
        # pods run the new core before it changes the database under them.
        return out or self._update_db(changing, like=job)

    def _drop_failed(self, job_name: str) -> None:
        # Orphan keeps the failed pod (and its log) for whoever looks into it; the Job goes so
        # that retrying the tenant runs it again.
        self.driver.delete("batch/v1", "Job", job_name, self.spec.namespace, "Orphan")
        self.forget("batch/v1", "Job", job_name)

    def _update_db(self, changing: bool, like: dict) -> list[str]:
        """`wp core update-db` once per image, in a Job of its own; its outcome in the run's
        log. Kept once done (a rollback to a version finds its Job done and runs nothing).
        First looked at about when the install Job `like`, of the same site, took to finish."""
        job = update_db_job(self.spec)
        name, version = job["metadata"]["name"], self.spec.wordpress_version
        live = self.read("batch/v1", "Job", name)
        if live is None:
            if not changing:
                return []  # a one-off Job: not there yet is no drift
            validate_all([job])
            self.put(job)
            self.look_in = _took(like)
            self.ctx.log(
                f"rolled out; wp core update-db for WordPress {version} started (Job {name})"
            )
            return [f"wp core update-db is running (Job {name})"]
        failed = _condition(live, "Failed")
        if failed:
            why = f"({failed.get('reason', 'unknown')}): {failed.get('message', '')}"
            if not changing:
                return [f"the update-db Job {name} failed {why}"]
            self._drop_failed(name)
            raise StepFailed(
                f"wp core update-db for WordPress {version} failed {why}; its output: "
                f"kubectl logs -n {self.spec.namespace} job/{name}"
            )
        done = _condition(live, "Complete")
        if not done:
            return [f"wp core update-db is running (Job {name})"]
        if changing:
            finished = (live.get("status") or {}).get("completionTime", "")
            self.ctx.log(
                f"wp core update-db done: the database has WordPress {version}'s schema "
                f"(Job {name}, finished {finished}{schema_version(self.spec)})"
            )
        return []

    def live_destroy(self) -> Outcome:
        # Everything here lives in the tenant's namespace: the namespace step's deletion (the
        # last step of a teardown) removes it.
        return Outcome.done("removed with the namespace")
