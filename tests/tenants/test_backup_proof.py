"""Test restores into a scratch database and S3 prefix (real MariaDB, S3 on loopback, the fake
cluster for wp-content): each part proven, a failure said in words, the scratch dropped."""

import gzip
import hashlib
import io
import json
import tarfile

import pytest
from django.urls import reverse

from tenants import backups
from tenants.models import AuditEvent, Backup
from tests.provisioning.test_database import query
from tests.tenants.jobrunner import FilesJobRunner
from tests.tenants.test_backup_files import volume  # noqa: F401  (the fixture)
from tests.tenants.test_backups import site  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db


def _scratch_left(conn, s3, bucket, tenant) -> tuple[list, list]:
    databases = query(conn, "SHOW DATABASES LIKE %s", [f"restoretest_{tenant.slug}"])
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"restoretest/{tenant.slug}/")
    return databases, listed.get("Contents", [])


def _manifest(s3, bucket, item) -> dict:
    return json.loads(
        s3.get_object(Bucket=bucket, Key=item.prefix + "manifest.json")["Body"].read()
    )


def _rewrite_manifest(s3, bucket, item, manifest: dict) -> None:
    s3.put_object(Bucket=bucket, Key=item.prefix + "manifest.json", Body=json.dumps(manifest))


def test_a_test_restore_proves_database_media_and_wp_content_and_leaves_no_scratch(
    site,  # noqa: F811
    volume,  # noqa: F811
    kube_cluster,
    client,
    requester,
):
    tenant, s3, bucket, conn, db = site
    namespace, content, work = volume
    with FilesJobRunner(kube_cluster, content, work):
        item = backups.backup_take(Backup.objects.create(tenant=tenant).pk)
    assert item.state == Backup.State.DONE, item.error

    proven = backups.backup_verify(item)
    assert proven.verified_at is not None, proven.verify_error
    # Three tables, the address WordPress answers on, the one media file and both files of
    # wp-content (style.css, own.php; lost+found is never archived).
    assert proven.verify_detail.startswith(
        f"3 tables with WordPress's own (siteurl https://{tenant.host})"
    )
    assert "1 media files and 2 wp-content files read back" in proven.verify_detail
    assert _scratch_left(conn, s3, bucket, tenant) == ([], [])
    client.force_login(requester)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert "restored into a scratch database and S3 prefix on" in page
    assert "2 wp-content files read back" in page and 'id="restore-test-failed"' not in page


def test_a_changed_media_file_fails_the_test_restore_saying_which_and_the_page_says_why(
    site,  # noqa: F811
    client,
    requester,
):
    tenant, s3, bucket, conn, db = site
    item = backups.backup_take(Backup.objects.create(tenant=tenant).pk)
    assert backups.backup_verify(item).verified_at is not None
    # Same size, other bytes: only the checksum tells.
    s3.put_object(Bucket=bucket, Key=item.prefix + "media/2026/12/old.jpg", Body=b"BEFORE")

    failed = backups.backup_verify(item)
    assert failed.verify_error == (
        f"the media file 2026/12/old.jpg of {item.prefix} doesn't match its manifest's checksum"
    )
    assert failed.verify_failed_at is not None
    assert _scratch_left(conn, s3, bucket, tenant) == ([], [])
    event = AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_BACKUP_FAILED).get()
    assert event.message == f"Test restore of the backup of {item}: {failed.verify_error}"
    client.force_login(requester)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert 'id="restore-test-failed"' in page and "doesn&#x27;t match its manifest" in page

    # A file the manifest names and the backup lost.
    s3.delete_object(Bucket=bucket, Key=item.prefix + "media/2026/12/old.jpg")
    assert "NoSuchKey" in backups.backup_verify(item).verify_error
    assert _scratch_left(conn, s3, bucket, tenant) == ([], [])


def test_a_dump_without_wordpress_tables_or_siteurl_proves_nothing(site):  # noqa: F811
    tenant, s3, bucket, conn, db = site
    query(conn, f"DELETE FROM `{db}`.wp_options WHERE option_name = 'siteurl'")
    no_address = backups.backup_verify(backups.backup_take(Backup.objects.create(tenant=tenant).pk))
    assert no_address.verified_at is None
    assert no_address.verify_error.startswith("the restored wp_options has no siteurl")

    query(conn, f"DROP TABLE `{db}`.wp_options")
    query(conn, f"DROP TABLE `{db}`.wp_users")
    bare = backups.backup_verify(backups.backup_take(Backup.objects.create(tenant=tenant).pk))
    assert bare.verify_error == (
        "the restored database lacks WordPress's tables wp_options, wp_users: it would not "
        "bring the site back"
    )
    assert _scratch_left(conn, s3, bucket, tenant) == ([], [])


def test_an_archive_that_matches_its_checksum_but_is_no_tar_fails_the_test_restore(
    site,  # noqa: F811
    volume,  # noqa: F811
    kube_cluster,
):
    tenant, s3, bucket, conn, db = site
    namespace, content, work = volume
    with FilesJobRunner(kube_cluster, content, work):
        item = backups.backup_take(Backup.objects.create(tenant=tenant).pk)
    manifest = _manifest(s3, bucket, item)

    # A gzip whose content is no tar, its checksum written into the manifest: only unpacking
    # tells it is no archive.
    body = gzip.compress(b"not a tar at all" * 100)
    s3.put_object(Bucket=bucket, Key=item.prefix + "files.tar.gz", Body=body)
    manifest["files"] |= {"size": len(body), "sha256": hashlib.sha256(body).hexdigest()}
    _rewrite_manifest(s3, bucket, item, manifest)
    failed = backups.backup_verify(item)
    assert failed.verify_error.startswith(
        f"the files archive under {item.prefix} can't be unpacked"
    )

    # A tar cut short (its gzip trailer gone), checksum matching: unpacking tells again.
    whole = io.BytesIO()
    with tarfile.open(fileobj=whole, mode="w:gz") as archive:
        data = b"x" * 50000
        info = tarfile.TarInfo("./themes/big.css")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    cut = whole.getvalue()[:-12]
    s3.put_object(Bucket=bucket, Key=item.prefix + "files.tar.gz", Body=cut)
    manifest["files"] |= {"size": len(cut), "sha256": hashlib.sha256(cut).hexdigest()}
    _rewrite_manifest(s3, bucket, item, manifest)
    assert "can't be unpacked" in backups.backup_verify(item).verify_error
    assert _scratch_left(conn, s3, bucket, tenant) == ([], [])


def test_the_schedule_tries_a_backup_once_and_the_next_one_after_a_failed_test_restore(
    site,  # noqa: F811
    eager_celery,
    django_capture_on_commit_callbacks,
):
    tenant, s3, bucket, conn, db = site
    first = backups.backup_take(Backup.objects.create(tenant=tenant).pk)
    s3.put_object(Bucket=bucket, Key=first.prefix + "database.sql.gz", Body=b"tampered")
    with django_capture_on_commit_callbacks(execute=True):
        backups.backups_schedule()
    first.refresh_from_db()
    assert "doesn't match its manifest's checksum" in first.verify_error
    with django_capture_on_commit_callbacks(execute=True) as queued:
        backups.backups_schedule()
    assert queued == []  # not tried again every hour

    second = backups.backup_take(Backup.objects.create(tenant=tenant).pk)
    with django_capture_on_commit_callbacks(execute=True):
        backups.backups_schedule()
    second.refresh_from_db()
    assert second.verified_at is not None, second.verify_error
    assert backups.last_failed_restore_test(tenant) is None  # proven since


def test_a_second_copy_of_the_test_restore_message_does_nothing(
    site,  # noqa: F811
    eager_celery,
    django_capture_on_commit_callbacks,
):
    # The schedule looks every few minutes: while the first message waits for a worker, a
    # later look sends another for the same backup.
    from tenants.tasks import prove_backup

    tenant, *_ = site
    item = backups.backup_take(Backup.objects.create(tenant=tenant).pk)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        backups.backups_schedule()
        backups.backup_verify_request(item)
    assert len(queued) == 2
    item.refresh_from_db()
    assert item.verified_at is not None, item.verify_error
    proven = item.verified_at
    prove_backup.delay(item.pk)
    item.refresh_from_db()
    assert item.verified_at == proven  # not restored a second time


def test_the_page_follows_a_running_backup_part_by_part(site, client, requester):  # noqa: F811
    tenant, *_ = site
    item = Backup.objects.create(tenant=tenant)
    client.force_login(requester)
    page = client.get(tenant.get_absolute_url()).content.decode()
    polled = reverse("tenants:backups", args=[tenant.pk])
    assert f'hx-get="{polled}"' in page and "waiting for a worker" in page

    Backup.objects.filter(pk=item.pk).update(
        phase=Backup.Phase.FILES, steps_done=2, steps_total=5, bytes_done=3 * 1024 * 1024
    )
    part = client.get(polled).content.decode()
    assert "part 3 of 5: archiving wp-content (a Job in the site&#x27;s namespace)" in part
    assert "3.0\xa0MB written so far" in part and '<progress max="5" value="2">' in part

    done = backups.backup_take(item.pk)  # what the worker does (plan mode: no files Job)
    assert done.state == Backup.State.DONE and done.phase == ""
    assert done.steps_done == done.steps_total == 4 and done.bytes_done == done.size_bytes
    part = client.get(polled).content.decode()
    assert "hx-get" not in part and "backup-progress" not in part


def test_a_backup_records_each_part_on_its_row_as_it_starts(
    site,  # noqa: F811
    volume,  # noqa: F811
    kube_cluster,
    monkeypatch,
):
    from tenants.backupprogress import BackupProgress

    tenant, *_ = site
    namespace, content, work = volume
    seen = []

    class Watched(BackupProgress):
        """The row as the page would read it, each time the backup says where it is."""

        def __call__(self, phase: str, bytes_done: int) -> None:
            super().__call__(phase, bytes_done)
            row = Backup.objects.values_list("phase", "steps_done", "steps_total", "bytes_done")
            seen.append(row.get(pk=self.backup_id))

    monkeypatch.setattr(backups, "BackupProgress", Watched)
    with FilesJobRunner(kube_cluster, content, work):
        item = backups.backup_take(Backup.objects.create(tenant=tenant).pk)
    assert item.state == Backup.State.DONE, item.error
    parts = []
    for phase, done, total, _ in seen:
        if not parts or parts[-1] != (phase, done, total):
            parts.append((phase, done, total))
    assert parts == [
        ("dump", 0, 5),
        ("upload", 1, 5),
        ("files", 2, 5),
        ("media", 3, 5),
        ("manifest", 4, 5),
    ]
    manifest = _manifest(*site[1:3], item)
    dumped = manifest["database"]["size"]
    files_at = next(written for phase, *_, written in seen if phase == "files")
    assert files_at == dumped  # the dump is written when the files Job starts
    assert seen[-1][3] == item.size_bytes  # and all of it when the manifest is
