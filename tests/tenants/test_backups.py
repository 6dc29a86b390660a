"""Backups against real MariaDB and S3 on loopback (moto): a dump and the media, then back."""

import hashlib
import json
import uuid

import boto3
import pytest
from django.urls import reverse

from portal.errors import ApplicationError
from tenants import backups
from tenants.models import AuditEvent, Backup, Tenant
from tests import services as svc
from tests.factories import TenantFactory
from tests.provisioning.test_database import admin, query
from tests.provisioning.test_storage import ADMIN

pytestmark = pytest.mark.django_db


def wordpress_tables(conn, db: str, siteurl: str) -> None:
    """The rest of what a test restore expects of a WordPress database: its options (the
    site's address among them) and users."""
    query(
        conn,
        f"CREATE TABLE `{db}`.wp_options (option_id INT AUTO_INCREMENT PRIMARY KEY, "
        "option_name VARCHAR(191) UNIQUE, option_value LONGTEXT) ENGINE=InnoDB",
    )
    query(
        conn,
        f"INSERT INTO `{db}`.wp_options (option_name, option_value) VALUES ('siteurl', %s)",
        [siteurl],
    )
    query(
        conn,
        f"CREATE TABLE `{db}`.wp_users (ID INT PRIMARY KEY, user_login VARCHAR(60)) ENGINE=InnoDB",
    )


@pytest.fixture
def site(settings, moto_url, requester):
    """A ready tenant with a database of one row and one media file."""
    svc.require("MariaDB", svc.MARIADB)
    settings.PORTAL_MARIADB_URL = svc.MARIADB_URL
    settings.PORTAL_S3_ENDPOINT_URL = moto_url
    settings.PORTAL_S3_IAM_ENDPOINT_URL = ""
    settings.PORTAL_S3_REGION = "eu-central-1"
    settings.PORTAL_S3_ACCESS_KEY_ID = ADMIN["aws_access_key_id"]
    settings.PORTAL_S3_SECRET_ACCESS_KEY = ADMIN["aws_secret_access_key"]
    bucket = f"media-{uuid.uuid4().hex[:12]}"
    slug = f"b{uuid.uuid4().hex[:10]}"
    s3 = boto3.client("s3", endpoint_url=moto_url, region_name="eu-central-1", **ADMIN)
    s3.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-central-1"}
    )
    s3.put_object(Bucket=bucket, Key=f"tenants/{slug}/2026/12/old.jpg", Body=b"before")
    tenant = TenantFactory(owner=requester, slug=slug, state=Tenant.State.READY, s3_bucket=bucket)
    db = f"wp_{slug}"
    conn = admin()
    query(conn, f"CREATE DATABASE `{db}`")
    query(
        conn, f"CREATE TABLE `{db}`.wp_posts (id INT PRIMARY KEY, title VARCHAR(50)) ENGINE=InnoDB"
    )
    query(conn, f"INSERT INTO `{db}`.wp_posts VALUES (1, 'written before')")
    wordpress_tables(conn, db, f"https://{tenant.host}")
    yield tenant, s3, bucket, conn, db
    query(conn, f"DROP DATABASE IF EXISTS `{db}`")
    conn.close()


def test_backup_then_restore_brings_back_what_was_before_and_removes_what_came_after(
    site, requester, client, django_capture_on_commit_callbacks
):
    tenant, s3, bucket, conn, db = site
    client.force_login(requester)
    with django_capture_on_commit_callbacks() as queued:
        answer = client.post(reverse("tenants:backup", args=[tenant.pk]))
    assert answer.status_code == 302 and len(queued) == 1
    item = backups.backup_take(tenant.backups.get().pk)  # what the worker runs
    assert item.state == Backup.State.DONE, item.error
    assert item.prefix.startswith(f"backups/{tenant.slug}/")

    manifest = json.loads(
        s3.get_object(Bucket=bucket, Key=item.prefix + "manifest.json")["Body"].read()
    )
    dump = s3.get_object(Bucket=bucket, Key=item.prefix + "database.sql.gz")
    assert dump["ServerSideEncryption"] == "AES256"
    body = dump["Body"].read()
    assert manifest["database"]["sha256"] == hashlib.sha256(body).hexdigest()
    assert manifest["database"]["size"] == len(body) == item.size_bytes - 6
    assert manifest["wordpress_version"] == tenant.wordpress_version
    assert manifest["plan"] == tenant.plan.name
    assert [m["key"] for m in manifest["media"]] == ["2026/12/old.jpg"]
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert 'id="backups"' in page and "Done" in page

    # After the backup: a new row, the old one gone, a new file and the old one changed.
    query(conn, f"INSERT INTO `{db}`.wp_posts VALUES (2, 'written after')")
    query(conn, f"DELETE FROM `{db}`.wp_posts WHERE id = 1")
    s3.put_object(Bucket=bucket, Key=f"tenants/{tenant.slug}/2026/12/new.jpg", Body=b"after")
    s3.put_object(Bucket=bucket, Key=f"tenants/{tenant.slug}/2026/12/old.jpg", Body=b"edited")

    url = reverse("tenants:restore", args=[tenant.pk, item.pk])
    refused = client.post(url, {"confirm_slug": "nope"})
    assert refused.status_code == 400 and "to confirm" in refused.content.decode()
    with django_capture_on_commit_callbacks() as queued:
        client.post(url, {"confirm_slug": tenant.slug})
    tenant.refresh_from_db()
    assert tenant.restoring and len(queued) == 1
    again = client.post(url, {"confirm_slug": tenant.slug}, follow=True).content.decode()
    assert "A restore of this tenant is already under way." in again
    backups.backup_restore(backup_id=item.pk, actor=requester)  # what the worker runs
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert 'id="restore-note"' in page and "Restored the backup of" in page
    assert "The backup holds no wp-content (no cluster archived it)" in page  # plan mode
    assert query(conn, f"SELECT id, title FROM `{db}`.wp_posts") == [(1, "written before")]
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"tenants/{tenant.slug}/")["Contents"]
    assert [o["Key"].split("/")[-1] for o in listed] == ["old.jpg"]
    old = s3.get_object(Bucket=bucket, Key=f"tenants/{tenant.slug}/2026/12/old.jpg")
    assert old["Body"].read() == b"before"
    # A safety backup of what was there was taken first.
    safety = tenant.backups.get(reason="before restore")
    assert safety.state == Backup.State.DONE
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_RESTORED).count() == 1


def test_a_backup_that_fails_says_why_and_is_never_done(site):
    tenant, *_ = site
    Tenant.objects.filter(pk=tenant.pk).update(slug="nodbhere")
    tenant.refresh_from_db()
    item = backups.backup_take(Backup.objects.create(tenant=tenant).pk)
    assert item.state == Backup.State.FAILED
    assert "the dump of wp_nodbhere failed" in item.error and "Unknown database" in item.error
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_BACKUP_FAILED).count() == 1


def test_backups_are_refused_where_they_make_no_sense_and_audited(
    site, other_requester, requester, approver, client, django_capture_on_commit_callbacks
):
    tenant, *_ = site
    done = backups.backup_take(Backup.objects.create(tenant=tenant).pk)
    busy = TenantFactory(
        owner=requester, state=Tenant.State.PROVISIONING, s3_bucket=tenant.s3_bucket
    )
    busy_backup = Backup.objects.create(tenant=busy, state=Backup.State.DONE, prefix="x/")
    back, restore = backups.backup_request, backups.backup_restore_request
    ours, theirs = {"backup_id": done.pk}, {"backup_id": busy_backup.pk}
    refusals = [
        (back, tenant, other_requester, {}, "Only the owner or a platform admin"),
        (restore, tenant, other_requester, ours, "Only the owner or a platform admin can restore"),
        (back, busy, requester, {}, "Only a ready tenant can be backed up"),
        (
            restore,
            busy,
            approver,
            theirs,
            "ready tenant can be restored; this one is “Provisioning”",
        ),
        (restore, tenant, requester, theirs, "doesn't exist or didn't finish"),  # another's
    ]
    for service, on, actor, more, message in refusals:
        with pytest.raises(ApplicationError, match=message):
            service(tenant=on, actor=actor, **more)
        refusal = AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_REFUSED).first()
        assert refusal.actor == actor and refusal.object_id == str(on.pk)
        assert message in refusal.message
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_REFUSED).count() == 5
    assert f"restore backup {busy_backup.pk}: " in refusal.message
    assert not tenant.backups.exclude(pk=done.pk).exists() and not busy.restoring

    # From the page: a second "back up now" while one runs, a second restore while one is
    # under way; each said in words and audited with who tried.
    client.force_login(requester)
    with django_capture_on_commit_callbacks():
        client.post(reverse("tenants:backup", args=[tenant.pk]))
        again = client.post(reverse("tenants:backup", args=[tenant.pk]), follow=True)
    page = again.content.decode()
    assert "A backup of this tenant is already running." in page
    # (a second tab's button: the page itself offers none while one runs)
    assert 'id="btn-backup"' not in page
    Backup.objects.filter(tenant=tenant, state=Backup.State.RUNNING).delete()
    assert 'id="btn-backup"' in client.get(tenant.get_absolute_url()).content.decode()
    url = reverse("tenants:restore", args=[tenant.pk, done.pk])
    with django_capture_on_commit_callbacks():
        client.post(url, {"confirm_slug": tenant.slug})
        again = client.post(url, {"confirm_slug": tenant.slug}, follow=True)
    assert "A restore of this tenant is already under way." in again.content.decode()
    latest = AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_REFUSED)[:2]
    assert [e.message for e in latest] == [
        f"restore {done}: A restore of this tenant is already under way.",
        "back up: A backup of this tenant is already running.",
    ]
    assert {e.actor for e in latest} == {requester}


def test_the_purge_takes_a_final_backup_first_and_keeps_a_tenant_it_could_not_save(
    site, requester, settings, eager_celery
):
    from datetime import timedelta

    from django.utils import timezone

    from tenants.tasks import purge_due_deletions

    tenant, s3, bucket, conn, db = site
    past = timezone.now() - timedelta(minutes=1)
    unsaved = TenantFactory(owner=requester, state=Tenant.State.READY, s3_bucket=bucket)
    Tenant.objects.filter(pk__in=[tenant.pk, unsaved.pk]).update(delete_after=past)

    purge_due_deletions()
    tenant.refresh_from_db()
    unsaved.refresh_from_db()
    final = tenant.backups.get(reason="final")
    assert final.state == Backup.State.DONE
    assert s3.get_object(Bucket=bucket, Key=final.prefix + "manifest.json")
    assert tenant.state == Tenant.State.DELETING and not tenant.desired_present
    # No database to dump: the backup failed, so the tenant stays for the next look.
    assert unsaved.backups.get(reason="final").state == Backup.State.FAILED
    assert unsaved.state == Tenant.State.READY and unsaved.desired_present


def test_an_upgrade_backs_up_first_and_a_failed_one_gets_its_database_back(
    site, requester, django_capture_on_commit_callbacks, eager_celery
):
    from provisioning.models import Run
    from tenants import upgrade

    tenant, s3, bucket, conn, db = site
    Tenant.objects.filter(pk=tenant.pk).update(wordpress_version="6.7")
    tenant.refresh_from_db()
    with django_capture_on_commit_callbacks() as queued:
        upgrade.tenant_upgrade(tenant=tenant, actor=requester, version="6.8")
    tenant.refresh_from_db()
    assert tenant.upgrade_to == "6.8" and tenant.wordpress_version == "6.7"
    assert len(queued) == 1 and not Run.objects.filter(tenant=tenant).exists()

    item = tenant.backups.get(reason="before upgrade")
    tenant = upgrade.upgrade_start(item.pk)  # what the worker runs
    assert tenant.wordpress_version == "6.8" and tenant.upgrade_backup_id == item.pk
    run = Run.objects.get(tenant=tenant, reason="upgrade")

    # The new version changed the database, then its pods never became ready.
    query(conn, f"UPDATE `{db}`.wp_posts SET title = 'migrated by 6.8'")
    Run.objects.filter(pk=run.pk).update(status=Run.Status.FAILED)  # as the engine leaves it
    with django_capture_on_commit_callbacks(execute=True):
        upgrade.after_failed_run(run, "The wordpress step failed: WordPress didn't roll out")
    tenant.refresh_from_db()
    assert tenant.wordpress_version == "6.7"
    assert query(conn, f"SELECT title FROM `{db}`.wp_posts") == [("written before",)]
    assert "rolled back to 6.7" in tenant.upgrade_note
    assert "The database was put back as it was before" in tenant.upgrade_note
    assert Run.objects.filter(tenant=tenant, reason="rollback").exists()


def test_the_schedule_backs_up_due_tenants_and_expires_what_the_plan_no_longer_keeps(
    site, django_capture_on_commit_callbacks, eager_celery, client, requester
):
    from datetime import timedelta

    from django.utils import timezone

    from tenants.tasks import scheduled_backups

    tenant, s3, bucket, conn, db = site
    old_prefix = f"backups/{tenant.slug}/20260101T000000-0/"
    s3.put_object(Bucket=bucket, Key=old_prefix + "manifest.json", Body=b"{}")
    old = Backup.objects.create(tenant=tenant, state=Backup.State.DONE, prefix=old_prefix)
    ten_days = timezone.now() - timedelta(days=10)
    Backup.objects.filter(pk=old.pk).update(created_at=ten_days)
    Tenant.objects.filter(pk=tenant.pk).update(created_at=ten_days)
    client.force_login(requester)
    assert 'id="backup-overdue"' in client.get(tenant.get_absolute_url()).content.decode()

    # The only good backup is older than the plan keeps: it stays until a newer one exists.
    with django_capture_on_commit_callbacks(execute=True):
        scheduled_backups()
    fresh = tenant.backups.get(reason="scheduled")
    assert fresh.state == Backup.State.DONE, fresh.error
    assert Backup.objects.filter(pk=old.pk).exists()
    assert 'id="backup-overdue"' not in client.get(tenant.get_absolute_url()).content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        scheduled_backups()  # not due again; the old one is expired now
    assert tenant.backups.filter(reason="scheduled").count() == 1
    assert not Backup.objects.filter(pk=old.pk).exists()
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=old_prefix)
    # Which backup went and why, for the auditors.
    [expired] = AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_BACKUP_EXPIRED)
    assert expired.object_id == str(tenant.pk) and expired.actor_name == "system"
    assert expired.before == {
        "backup": old.pk,
        "taken": ten_days.isoformat(),
        "state": "done",
        "reason": "manual",
        "size_bytes": 0,
        "prefix": old_prefix,
        "objects_removed": 1,
    }
    assert expired.message == (
        f"The backup of {tenant.slug} {ten_days:%Y-%m-%d %H:%M} (done) was removed: older than "
        f"the {tenant.plan.name} plan's 7 days of retention."
    )
    assert s3.get_object(Bucket=bucket, Key=fresh.prefix + "manifest.json")
    fresh.refresh_from_db()
    assert fresh.verified_at is not None  # and its test restore proved it


def test_a_test_restore_proves_the_newest_backup_in_a_scratch_database_and_drops_it(
    site, client, requester
):
    tenant, s3, bucket, conn, db = site
    item = backups.backup_take(Backup.objects.create(tenant=tenant).pk)
    proven = backups.backup_verify(item)
    assert proven.verified_at is not None and proven.verify_error == ""
    scratch = f"restoretest_{tenant.slug}"
    assert query(conn, "SHOW DATABASES LIKE %s", [scratch]) == []
    client.force_login(requester)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert "Last proven restore: the backup of" in page

    # A dump that no longer matches its manifest is not proven, and says so.
    s3.put_object(Bucket=bucket, Key=item.prefix + "database.sql.gz", Body=b"tampered")
    failed = backups.backup_verify(item)
    assert "doesn't match its manifest's checksum" in failed.verify_error
    assert "Test restore failed" in client.get(tenant.get_absolute_url()).content.decode()


def test_a_backup_its_worker_abandoned_ends_failed_and_the_schedule_goes_on(
    site, settings, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    tenant, *_ = site
    left = Backup.objects.create(tenant=tenant, reason="manual")
    recent = Backup.objects.create(tenant=TenantFactory(state=Tenant.State.READY))
    too_old = settings.PORTAL_BACKUP_TIME_LIMIT + 60 + settings.PORTAL_MESSAGE_GRACE + 1
    Backup.objects.filter(pk=left.pk).update(created_at=timezone.now() - timedelta(seconds=too_old))
    with pytest.raises(ApplicationError, match="already running"):
        backups.backup_request(tenant=tenant, actor=None)

    with django_capture_on_commit_callbacks():
        started = backups.backups_schedule()
    left.refresh_from_db()
    recent.refresh_from_db()
    assert left.state == Backup.State.FAILED and left.error.startswith("The worker taking it")
    assert recent.state == Backup.State.RUNNING  # its worker may still be at it
    assert tenant.pk in {item.tenant_id for item in started}
    failed = AuditEvent.objects.get(action=AuditEvent.Action.TENANT_BACKUP_FAILED)
    assert failed.object_id == str(tenant.pk) and failed.message == left.error
    # A late copy of its message changes nothing.
    assert backups.backup_take(left.pk).state == Backup.State.FAILED


def test_an_upgrade_whose_backup_was_abandoned_is_called_off_saying_so(site, settings):
    from datetime import timedelta

    from django.utils import timezone

    tenant, *_ = site
    left = Backup.objects.create(tenant=tenant, reason="before upgrade")
    Tenant.objects.filter(pk=tenant.pk).update(upgrade_to="6.8")
    too_old = settings.PORTAL_BACKUP_TIME_LIMIT + 60 + settings.PORTAL_MESSAGE_GRACE + 1
    Backup.objects.filter(pk=left.pk).update(created_at=timezone.now() - timedelta(seconds=too_old))
    backups.backups_schedule()
    tenant.refresh_from_db()
    assert tenant.upgrade_to == ""
    assert tenant.upgrade_note.startswith("The upgrade didn't start: the worker taking the backup")


def test_a_deleted_tenants_backups_final_one_too_go_after_retention_leaving_nothing_in_s3(
    site, django_capture_on_commit_callbacks, eager_celery
):
    from datetime import timedelta

    from django.utils import timezone

    from tenants.tasks import purge_due_deletions, scheduled_backups

    tenant, s3, bucket, conn, db = site
    assert tenant.plan.backup_retention_days == 7

    def taken_days_ago(days: int) -> Backup:
        item = Backup.objects.create(tenant=tenant)
        Backup.objects.filter(pk=item.pk).update(created_at=timezone.now() - timedelta(days=days))
        return backups.backup_take(item.pk)

    older = taken_days_ago(12)
    assert older.state == Backup.State.DONE, older.error
    # One that failed after writing its dump: no prefix recorded, its objects left behind.
    broken = taken_days_ago(12)
    Backup.objects.filter(pk=broken.pk).update(state=Backup.State.FAILED, prefix="")
    Tenant.objects.filter(pk=tenant.pk).update(delete_after=timezone.now() - timedelta(minutes=1))
    purge_due_deletions()
    final = tenant.backups.get(reason="final")
    assert final.state == Backup.State.DONE, final.error
    # The teardown ends so (the engine's part is tested on the fake cluster).
    Tenant.objects.filter(pk=tenant.pk).update(state=Tenant.State.DELETED)

    def kept() -> set[str]:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"backups/{tenant.slug}/")
        return {o["Key"] for o in listed.get("Contents", [])}

    assert any(key.startswith(broken.prefix) for key in kept())
    with django_capture_on_commit_callbacks(execute=True) as queued:
        scheduled_backups()
    assert queued == []  # a deleted tenant is not backed up again
    assert list(tenant.backups.all()) == [final]  # within retention: the way back stays
    assert not any(key.startswith(older.prefix) for key in kept())
    assert kept() and all(key.startswith(final.prefix) for key in kept())

    Backup.objects.filter(pk=final.pk).update(created_at=timezone.now() - timedelta(days=8))
    # A recreation from it whose build failed, deleted again: it waits for nothing any more.
    Tenant.objects.filter(pk=tenant.pk).update(restoring=True, restore_backup=final)
    with django_capture_on_commit_callbacks(execute=True):
        scheduled_backups()
    assert not tenant.backups.exists()
    assert kept() == set()
    gone = AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_BACKUP_EXPIRED)
    assert {e.before["backup"] for e in gone} == {older.pk, broken.pk, final.pk}
    last = gone.get(before__backup=final.pk)
    assert last.before["reason"] == "final" and last.before["prefix"] == final.prefix
    assert last.message.endswith(
        f"removed: the tenant was deleted and the {tenant.plan.name} plan's 7 days of "
        "retention have passed."
    )
    assert gone.get(before__backup=broken.pk).before["prefix"] == broken.prefix
    versions = s3.list_object_versions(Bucket=bucket, Prefix=f"backups/{tenant.slug}/")
    assert "Versions" not in versions and "DeleteMarkers" not in versions
