"""wp-content in backups: a Job in the tenant's namespace tars the volume to the backup's S3
prefix and puts it back on restore (the fake cluster, real MariaDB and S3 on loopback; the
Jobs' own scripts run here in place of a kubelet)."""

import hashlib
import json

import pytest

from provisioning.secrets import SECRET_NAME
from tenants import backups
from tenants.models import Backup
from tests.provisioning.test_database import query
from tests.tenants.jobrunner import FilesJobRunner
from tests.tenants.test_backups import site  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def namespace_made(kube_cluster, tenant) -> str:
    """The tenant's namespace and its Secret (a database password) as a build leaves them."""
    namespace = f"wp-{tenant.slug}"
    kube_cluster.create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    kube_cluster.create(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": SECRET_NAME, "namespace": namespace},
            "data": {"DB_PASSWORD": "eA=="},
        }
    )
    return namespace


@pytest.fixture
def volume(site, kube_cluster, tmp_path, settings):  # noqa: F811
    """The tenant's namespace and Secret on the fake cluster, and its content volume here."""
    tenant, *_ = site
    settings.PORTAL_WAIT_FIRST = 0.1
    settings.PORTAL_WAIT_INTERVAL = 1
    namespace = namespace_made(kube_cluster, tenant)
    content = tmp_path / "wp-content"
    (content / "themes" / "shop").mkdir(parents=True)
    (content / "themes" / "shop" / "style.css").write_text("/* before */")
    (content / "plugins" / "own").mkdir(parents=True)
    (content / "plugins" / "own" / "own.php").write_text("<?php // own plugin")
    (content / "lost+found").mkdir()
    work = tmp_path / "work"
    work.mkdir()
    return namespace, content, work


def _files(content) -> dict[str, str]:
    return {
        str(p.relative_to(content)): p.read_text()
        for p in sorted(content.rglob("*"))
        if p.is_file()
    }


def test_a_backup_archives_wp_content_and_a_restore_puts_it_back(
    site,  # noqa: F811
    volume,
    kube_cluster,
    requester,
):
    tenant, s3, bucket, conn, db = site
    namespace, content, work = volume
    before = _files(content)

    with FilesJobRunner(kube_cluster, content, work) as kubelet:
        item = backups.backup_take(Backup.objects.create(tenant=tenant).pk)
    assert item.state == Backup.State.DONE, item.error
    [job] = kubelet.ran
    assert job["metadata"]["namespace"] == namespace
    pod = job["spec"]["template"]["spec"]
    mount = pod["containers"][0]["volumeMounts"][0]
    assert mount == {"name": "content", "mountPath": "/var/www/html/wp-content", "readOnly": True}
    assert pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "wordpress-content"
    # The signed upload addresses come from the tenant's Secret, never the Job's spec, and are
    # taken out of the Secret again; the Job is gone once done.
    assert "X-Amz-Signature" not in json.dumps(job) and bucket not in json.dumps(job)
    secret = kube_cluster.get("Secret", SECRET_NAME, namespace)
    assert list(secret["data"]) == ["DB_PASSWORD"]
    assert kube_cluster.list("Job", namespace) == []

    manifest = json.loads(
        s3.get_object(Bucket=bucket, Key=item.prefix + "manifest.json")["Body"].read()
    )
    archive = s3.get_object(Bucket=bucket, Key=item.prefix + "files.tar.gz")
    assert archive["ServerSideEncryption"] == "AES256"
    body = archive["Body"].read()
    assert manifest["files"] == {
        "file": "files.tar.gz",
        "size": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    assert item.size_bytes == manifest["database"]["size"] + 6 + len(body)

    # After the backup: a theme file changed, a plugin added.
    (content / "themes" / "shop" / "style.css").write_text("/* after */")
    (content / "plugins" / "added").mkdir()
    (content / "plugins" / "added" / "added.php").write_text("<?php // came later")
    query(conn, f"INSERT INTO `{db}`.wp_posts VALUES (2, 'written after')")

    with FilesJobRunner(kube_cluster, content, work) as kubelet:
        note = backups.backup_restore(backup_id=item.pk, actor=requester)
    assert note.startswith("Restored the backup of"), note
    restore_job = kubelet.ran[-1]
    assert restore_job["spec"]["template"]["spec"]["containers"][0]["name"] == "restore"
    assert _files(content) == before
    assert (content / "lost+found").is_dir()  # root's, on a real volume: left alone
    assert query(conn, f"SELECT id FROM `{db}`.wp_posts") == [(1,)]
    assert "restored 2 files" in kubelet.outputs[-1]
    assert list(kube_cluster.get("Secret", SECRET_NAME, namespace)["data"]) == ["DB_PASSWORD"]


def test_a_files_job_that_fails_fails_the_backup_saying_why(site, volume, kube_cluster):  # noqa: F811
    tenant, s3, bucket, *_ = site
    namespace, content, work = volume
    with FilesJobRunner(kube_cluster, content, work, fail=True):
        item = backups.backup_take(Backup.objects.create(tenant=tenant).pk)
    assert item.state == Backup.State.FAILED
    assert "the files Job wordpress-files-backup-" in item.error
    assert "BackoffLimitExceeded" in item.error and f"kubectl logs -n {namespace}" in item.error
    # No manifest: a backup without its files is not a backup.
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"backups/{tenant.slug}/").get("Contents")
    assert not any(o["Key"].endswith("manifest.json") for o in listed or [])
    assert list(kube_cluster.get("Secret", SECRET_NAME, namespace)["data"]) == ["DB_PASSWORD"]


def test_a_restore_whose_archive_does_not_match_its_checksum_leaves_the_volume(
    site,  # noqa: F811
    volume,
    kube_cluster,
    requester,
):
    tenant, s3, bucket, *_ = site
    namespace, content, work = volume
    with FilesJobRunner(kube_cluster, content, work):
        item = backups.backup_take(Backup.objects.create(tenant=tenant).pk)
    assert backups.backup_verify(item).verified_at is not None  # the test restore reads it
    s3.put_object(Bucket=bucket, Key=item.prefix + "files.tar.gz", Body=b"not the archive")
    proven = backups.backup_verify(item)
    assert "files archive under" in proven.verify_error and "checksum" in proven.verify_error
    (content / "plugins" / "added.php").write_text("<?php // came later")
    after = _files(content)
    with FilesJobRunner(kube_cluster, content, work):
        note = backups.backup_restore(backup_id=item.pk, actor=requester)
    assert note.startswith("The restore of the backup of") and "files Job" in note, note
    assert _files(content) == after
