"""The site's files (wp-content on its volume) to and from a backup, by a Job in its namespace."""

import hashlib
import time

from django.conf import settings

from provisioning.drivers.kubernetes import KubeApi, KubernetesSecrets
from provisioning.drivers.objectstore import ObjectStore
from provisioning.errors import StepFailed
from provisioning.manifests.files import files_job
from provisioning.schema import validate_all
from provisioning.spec import TenantSpec

ARCHIVE = "files.tar.gz"
CHECKSUM = "files.tar.gz.sha256"


def _presigned(store: ObjectStore, method: str, key: str, seconds: int) -> str:
    params = {"Bucket": store.bucket, "Key": key}
    if method == "put_object" and store.encryption:
        params["ServerSideEncryption"] = store.encryption
    return store.s3.generate_presigned_url(method, Params=params, ExpiresIn=seconds)


def _job_name(action: str, prefix: str) -> str:
    # One per backup and action: the name is the backup's, hashed to fit.
    return f"wordpress-files-{action}-{hashlib.sha256(prefix.encode()).hexdigest()[:10]}"


def files_backup(*, spec: TenantSpec, driver: KubeApi, store: ObjectStore, prefix: str) -> dict:
    """Tar wp-content into <prefix>files.tar.gz (its SHA-256 beside it); the manifest's entry."""
    name = _job_name("backup", prefix)
    urls = {
        "ARCHIVE_URL": ("put_object", prefix + ARCHIVE),
        "CHECKSUM_URL": ("put_object", prefix + CHECKSUM),
    }
    plain = {"SSE": store.encryption} if store.encryption else {}
    _run(spec, driver, store, name, "backup", urls, plain)
    try:
        head = store.s3.head_object(Bucket=store.bucket, Key=prefix + ARCHIVE)
        digest = store.s3.get_object(Bucket=store.bucket, Key=prefix + CHECKSUM)["Body"].read()
    except Exception as exc:  # the Job said done: an archive not there is its failure
        raise StepFailed(f"the files Job {name} finished but left no archive: {exc}") from exc
    sha256 = digest.decode(errors="replace").strip()
    if len(sha256) != 64:
        raise StepFailed(f"the files Job {name} wrote no checksum of its archive")
    return {"file": ARCHIVE, "size": head["ContentLength"], "sha256": sha256}


def files_restore(
    *, spec: TenantSpec, driver: KubeApi, store: ObjectStore, prefix: str, files: dict
) -> None:
    """Put wp-content back as the archive has it (what came since removed); the Job checks the
    archive's checksum against the manifest's before it touches the volume."""
    urls = {"ARCHIVE_URL": ("get_object", prefix + files["file"])}
    plain = {"ARCHIVE_SHA256": files["sha256"]}
    _run(spec, driver, store, _job_name("restore", prefix), "restore", urls, plain)


def _run(spec, driver, store, name: str, action: str, urls: dict, plain: dict) -> None:
    deadline = settings.PORTAL_FILES_JOB_DEADLINE
    secrets = KubernetesSecrets(spec, driver)
    # The addresses sign for one object each and expire with the Job: in the tenant's Secret
    # while it runs, never in the Job's spec or a log.
    keyed = {f"{name}.{var}": (var, *target) for var, target in urls.items()}
    values = {
        key: _presigned(store, method, obj, deadline + 300)
        for key, (_, method, obj) in keyed.items()
    }
    secret_env = {var: key for key, (var, _, _) in keyed.items()}
    secrets.put(values)
    try:
        driver.delete("batch/v1", "Job", name, spec.namespace, "Background")  # a dead try's
        job = files_job(spec, name, action, secret_env, plain, deadline)
        validate_all([job])
        driver.apply(job)
        _wait(driver, spec, name, time.monotonic() + deadline + 60)
    finally:
        secrets.discard(values)


def _wait(driver: KubeApi, spec: TenantSpec, name: str, until: float) -> None:
    pause = settings.PORTAL_WAIT_FIRST
    while True:
        job = driver.read("batch/v1", "Job", name, spec.namespace) or {}
        conditions = {
            c.get("type"): c for c in (job.get("status") or {}).get("conditions") or []
            if c.get("status") == "True"
        }  # fmt: skip
        if "Complete" in conditions:
            driver.delete("batch/v1", "Job", name, spec.namespace, "Background")
            return
        failed = conditions.get("Failed")
        if failed or not job:
            # Orphan: the failed pod and its log stay for whoever looks into it.
            driver.delete("batch/v1", "Job", name, spec.namespace, "Orphan")
            why = (
                f"{failed.get('reason', 'unknown')}: {failed.get('message', '')}"
                if failed
                else "it was deleted"
            )
            raise StepFailed(
                f"the files Job {name} failed ({why}); its output: "
                f"kubectl logs -n {spec.namespace} job/{name}"
            )
        if time.monotonic() > until:
            driver.delete("batch/v1", "Job", name, spec.namespace, "Orphan")
            raise StepFailed(f"the files Job {name} didn't finish in time")
        time.sleep(pause)
        pause = min(float(settings.PORTAL_WAIT_INTERVAL), pause * 2)
