"""A restore or a clone's fill whose worker dies is finished by another (real workers)."""

from datetime import timedelta

import pytest
from django.db.models.functions import Now
from django.urls import reverse

from tenants import backups, clone, restores
from tenants.models import AuditEvent, Backup, Tenant
from tests import services as svc
from tests.factories import TenantFactory
from tests.provisioning.test_database import admin, query
from tests.provisioning.test_storage import ADMIN
from tests.tenants.jobrunner import FilesJobRunner
from tests.tenants.test_backup_files import volume  # noqa: F401  (the fixture)
from tests.tenants.test_backups import site  # noqa: F401  (the fixture)
from tests.workers import Worker, wait_until, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def restore_workers(tmp_path, settings, moto_url):
    svc.require("Redis", svc.REDIS)
    started: list[Worker] = []
    env = worker_env(
        {
            "PORTAL_MARIADB_URL": svc.MARIADB_URL,
            "PORTAL_S3_ENDPOINT_URL": moto_url,
            "PORTAL_S3_IAM_ENDPOINT_URL": "",
            "PORTAL_S3_REGION": "eu-central-1",
            "PORTAL_S3_ACCESS_KEY_ID": ADMIN["aws_access_key_id"],
            "PORTAL_S3_SECRET_ACCESS_KEY": ADMIN["aws_secret_access_key"],
            "PORTAL_PLAN_DIR": str(tmp_path / "plan"),
            # Short clocks: a dead worker's message and lease come back within seconds.
            "PORTAL_BROKER_VISIBILITY_TIMEOUT": "4",
            "PORTAL_BROKER_RESTORE_INTERVAL": "1",
            "PORTAL_TENANT_LOCK_TTL": "4",
            # Under the lease, or the worker refuses to start (provisioning.leaserule).
            "PORTAL_TASK_TIME_LIMIT": "3",
            "PORTAL_TASK_SOFT_TIME_LIMIT": "2",
        }
    )

    def start(name: str, **extra: str) -> Worker:
        worker = Worker({**env, **extra}, tmp_path / f"{name}.log", name)
        started.append(worker)
        return worker

    start.logs = lambda: "\n".join(f"--- {w.name}\n{w.log()[-4000:]}" for w in started)
    yield start
    for worker in started:
        worker.stop()


def _load_waiting(db: str) -> list[tuple]:
    """The restore's connections stopped at the dump's DROP TABLE, behind the test's lock."""
    with admin() as conn:
        return query(
            conn,
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s "
            "AND STATE LIKE 'Waiting for table metadata lock' AND INFO LIKE 'DROP TABLE%%'",
            [db],
        )


def _connections_to(db: str) -> list[tuple]:
    with admin() as conn:
        return query(conn, "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s", [db])


def _hold_the_table(db: str):
    """A transaction that read the table: its metadata lock lets a dump read (shared) but keeps
    the load's DROP TABLE (exclusive) waiting until it ends."""
    holder = admin()
    query(holder, "BEGIN")
    query(holder, f"SELECT * FROM `{db}`.wp_posts")
    return holder


def test_a_worker_killed_mid_restore_leaves_a_restore_the_next_worker_finishes(
    site,  # noqa: F811
    requester,
    restore_workers,
):
    tenant, s3, bucket, conn, db = site
    item = backups.backup_take(Backup.objects.create(tenant=tenant).pk)
    assert item.state == Backup.State.DONE, item.error
    query(conn, f"INSERT INTO `{db}`.wp_posts VALUES (2, 'written after')")

    holder = _hold_the_table(db)
    first = restore_workers("w1")
    backups.backup_restore_request(tenant=tenant, actor=requester, backup_id=item.pk)
    # The safety backup is taken, and the load has begun overwriting the site when it dies.
    wait_until(lambda: _load_waiting(db), 60, "the load to reach the table", restore_workers.logs)
    safety = tenant.backups.get(reason="before restore")
    assert safety.state == Backup.State.DONE
    tenant.refresh_from_db()  # the page says which part is under way
    assert tenant.restore_note == (
        f"Restoring the backup of {item}: safety backup {safety} taken; loading the database."
    )
    first.kill()
    query(holder, "COMMIT")
    holder.close()
    # The dead client's connection goes once the server sees it gone.
    wait_until(lambda: not _connections_to(db), 30, "the dead worker's connection to end")
    tenant.refresh_from_db()
    assert tenant.restoring and tenant.restore_tries == 1

    restore_workers("w2")

    def restored():
        tenant.refresh_from_db()
        return not tenant.restoring

    wait_until(restored, 60, "the restore to end", restore_workers.logs)
    assert tenant.restore_note.startswith("Restored the backup of"), tenant.restore_note
    assert query(conn, f"SELECT id, title FROM `{db}`.wp_posts") == [(1, "written before")]
    # The second worker kept the first's safety backup: a new one would hold a half-done site.
    assert list(tenant.backups.filter(reason="before restore")) == [safety]
    assert tenant.restore_tries == 2
    restored_events = AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_RESTORED)
    assert restored_events.count() == 1 and restored_events.get().actor == requester


def test_a_restore_whose_message_was_lost_is_sent_again_by_the_sweep_and_done_once(
    site,  # noqa: F811
    requester,
    restore_workers,
    settings,
):
    tenant, s3, bucket, conn, db = site
    settings.PORTAL_MESSAGE_GRACE = 300
    item = backups.backup_take(Backup.objects.create(tenant=tenant).pk)
    query(conn, f"INSERT INTO `{db}`.wp_posts VALUES (2, 'written after')")
    # As if the broker lost the message: the restore is recorded and nobody was told.
    Tenant.objects.filter(pk=tenant.pk).update(
        restoring=True, restore_backup=item, restore_by=requester, restore_wakeup=7
    )
    Tenant.objects.filter(pk=tenant.pk).update(restore_sent_at=Now() - timedelta(minutes=6))
    # A stale copy of an older message changes nothing.
    assert restores.restore_run(tenant.pk, 6) is None

    # A reconcile holding the tenant keeps the sweep from sending it (nor would a live restore).
    Tenant.objects.filter(pk=tenant.pk).update(
        lock_holder="w:1:x", lock_expires_at=Now() + timedelta(minutes=5)
    )
    assert restores.restores_resume() == []
    Tenant.objects.filter(pk=tenant.pk).update(lock_holder="", lock_expires_at=None)

    restore_workers("w1")
    assert restores.restores_resume() == [tenant.pk]
    assert restores.restores_resume() == []  # sent just now: not again

    def restored():
        tenant.refresh_from_db()
        return not tenant.restoring

    wait_until(restored, 60, "the restore to end", restore_workers.logs)
    assert tenant.restore_note.startswith("Restored the backup of"), tenant.restore_note
    assert tenant.restore_wakeup == 8 and tenant.restore_tries == 1
    assert query(conn, f"SELECT id, title FROM `{db}`.wp_posts") == [(1, "written before")]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_RESTORED).count() == 1


def test_a_restore_that_keeps_killing_its_worker_ends_saying_so(site, requester):  # noqa: F811
    tenant, *_ = site
    item = backups.backup_take(Backup.objects.create(tenant=tenant).pk)
    safety = backups.backup_take(Backup.objects.create(tenant=tenant, reason="before restore").pk)
    Tenant.objects.filter(pk=tenant.pk).update(
        restoring=True,
        restore_backup=item,
        restore_safety=safety,
        restore_wakeup=3,
        restore_tries=restores.MAX_TRIES,
    )
    note = restores.restore_run(tenant.pk, 3)
    tenant.refresh_from_db()
    assert not tenant.restoring and tenant.restore_note == note
    assert note.startswith("The restore didn't finish: its worker stopped 3 times")
    assert str(safety) in note
    failed = AuditEvent.objects.get(action=AuditEvent.Action.TENANT_BACKUP_FAILED)
    assert failed.message == note


def test_a_worker_backs_up_and_restores_wp_content_through_the_files_jobs(
    site,  # noqa: F811
    volume,  # noqa: F811
    kube_cluster,
    requester,
    restore_workers,
):
    tenant, s3, bucket, conn, db = site
    namespace, content, work = volume
    before = {p.name: p.read_text() for p in content.rglob("*") if p.is_file()}
    restore_workers(
        "w1",
        PORTAL_KUBECONFIG=str(kube_cluster.kubeconfig_path),
        PORTAL_WAIT_FIRST="0.1",
        PORTAL_WAIT_INTERVAL="1",
    )
    with FilesJobRunner(kube_cluster, content, work) as kubelet:
        item = backups.backup_request(tenant=tenant, actor=requester)

        def finished():
            item.refresh_from_db()
            return item.state != Backup.State.RUNNING

        wait_until(finished, 60, "the backup", restore_workers.logs)
        assert item.state == Backup.State.DONE, item.error
        assert s3.head_object(Bucket=bucket, Key=item.prefix + "files.tar.gz")["ContentLength"]

        (content / "plugins" / "own" / "own.php").write_text("<?php // edited after")
        (content / "themes" / "later.css").write_text("/* came later */")
        query(conn, f"INSERT INTO `{db}`.wp_posts VALUES (2, 'written after')")
        backups.backup_restore_request(tenant=tenant, actor=requester, backup_id=item.pk)

        def restored():
            tenant.refresh_from_db()
            return not tenant.restoring

        wait_until(restored, 90, "the restore", restore_workers.logs)
    assert tenant.restore_note.startswith("Restored the backup of"), tenant.restore_note
    assert {p.name: p.read_text() for p in content.rglob("*") if p.is_file()} == before
    assert query(conn, f"SELECT id FROM `{db}`.wp_posts") == [(1,)]
    # The backup's Job, the safety backup's and the restore's, each in the tenant's namespace.
    actions = [job["spec"]["template"]["spec"]["containers"][0]["name"] for job in kubelet.ran]
    assert actions == ["backup", "backup", "restore"]
    assert kube_cluster.list("Job", namespace) == []


def test_a_restore_past_its_time_limit_ends_saying_so_and_is_not_taken_up_again(
    site,  # noqa: F811
    requester,
    restore_workers,
):
    tenant, s3, bucket, conn, db = site
    item = backups.backup_take(Backup.objects.create(tenant=tenant).pk)
    holder = _hold_the_table(db)  # the load waits, past the worker's limit of 3 s
    restore_workers("w1", PORTAL_BACKUP_TIME_LIMIT="3")
    backups.backup_restore_request(tenant=tenant, actor=requester, backup_id=item.pk)

    def ended():
        tenant.refresh_from_db()
        return not tenant.restoring

    try:
        wait_until(ended, 60, "the restore to end", restore_workers.logs)
    finally:
        query(holder, "COMMIT")
        holder.close()
    safety = tenant.backups.get(reason="before restore")
    assert tenant.restore_note == (
        "The restore didn't finish: it ran past its time limit of 3 s (PORTAL_BACKUP_TIME_LIMIT) "
        f"and was stopped. The site as it was before is in the safety backup {safety}."
    )
    assert tenant.restore_tries == 1
    # The stopped load's client went with it: nothing of it is left waiting on the table.
    wait_until(lambda: not _load_waiting(db), 30, "the stopped load's connection to end")


@pytest.fixture
def staging(site):  # noqa: F811
    """A built, still empty clone of the site: its own database, a table the load replaces."""
    tenant, s3, bucket, conn, db = site
    made = TenantFactory(
        owner=tenant.owner,
        slug=tenant.slug + "s",
        state=Tenant.State.READY,
        s3_bucket=bucket,
        clone_of=tenant,
    )
    ours = f"wp_{made.slug}"
    query(conn, f"CREATE DATABASE `{ours}`")
    query(conn, f"CREATE TABLE `{ours}`.wp_posts (id INT PRIMARY KEY, title VARCHAR(50))")
    yield made, ours
    query(conn, f"DROP DATABASE IF EXISTS `{ours}`")


def test_a_worker_killed_mid_fill_leaves_a_fill_the_next_worker_finishes(
    site,  # noqa: F811
    staging,
    restore_workers,
):
    tenant, s3, bucket, conn, db = site
    made, ours = staging
    holder = _hold_the_table(ours)
    first = restore_workers("w1")
    clone.after_ready(made)  # what the engine's ready run does
    made.refresh_from_db()
    assert made.restoring and made.restore_kind == "fill" and made.restore_sent_at is not None
    # The original's backup is taken, and the load has begun into the clone when it dies.
    wait_until(lambda: _load_waiting(ours), 60, "the load to reach the table", restore_workers.logs)
    first.kill()
    query(holder, "COMMIT")
    holder.close()
    wait_until(lambda: not _connections_to(ours), 30, "the dead worker's connection to end")
    made.refresh_from_db()
    assert made.restoring and made.restore_tries == 1 and made.cloned_at is None

    restore_workers("w2")

    def filled():
        made.refresh_from_db()
        return not made.restoring

    wait_until(filled, 60, "the fill to end", restore_workers.logs)
    assert made.restore_note.startswith(f"Copied the content of {tenant.slug}"), made.restore_note
    assert made.cloned_at is not None and made.restore_tries == 2
    assert made.clone_backup.tenant == tenant and made.clone_backup.state == Backup.State.DONE
    assert query(conn, f"SELECT id, title FROM `{ours}`.wp_posts") == [(1, "written before")]
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_CLONED).count() == 1


def test_a_fill_whose_message_was_lost_is_sent_again_and_one_that_keeps_failing_ends(
    site,  # noqa: F811
    staging,
    settings,
):
    made, ours = staging
    settings.PORTAL_MESSAGE_GRACE = 300
    clone.after_ready(made)
    made.refresh_from_db()
    wakeup = made.restore_wakeup
    assert restores.restores_resume() == []  # sent just now
    Tenant.objects.filter(pk=made.pk).update(restore_sent_at=Now() - timedelta(minutes=6))
    assert restores.restores_resume() == [made.pk]
    assert restores.restore_run(made.pk, wakeup) is None  # the lost copy drops itself

    Tenant.objects.filter(pk=made.pk).update(restore_tries=restores.MAX_TRIES)
    note = restores.restore_run(made.pk, wakeup + 1)
    made.refresh_from_db()
    assert not made.restoring and made.restore_note == note and made.cloned_at is None
    assert note == (
        "Copying the original's content into this clone didn't finish: its worker stopped 3 "
        "times before it finished. The clone is an empty site; “Copy again” on its page tries "
        "again."
    )
    failed = AuditEvent.objects.get(action=AuditEvent.Action.TENANT_CLONE_FAILED)
    assert failed.message == note


def test_a_failed_fill_is_copied_again_from_the_clones_page_by_its_owner(
    site,  # noqa: F811
    staging,
    requester,
    other_requester,
    client,
):
    tenant, s3, bucket, conn, db = site
    made, ours = staging
    # The first copy failed: the original was being deleted then, and is back now.
    Tenant.objects.filter(pk=tenant.pk).update(desired_present=False)
    clone.after_ready(made)
    made.refresh_from_db()
    note = clone.clone_fill(made.pk, wakeup=made.restore_wakeup)
    assert note.endswith("“Copy again” on its page tries again."), note
    Tenant.objects.filter(pk=tenant.pk).update(desired_present=True)

    client.force_login(other_requester)
    assert client.post(reverse("tenants:fill", args=[made.pk])).status_code == 404
    client.force_login(requester)
    page = client.get(made.get_absolute_url()).content.decode()
    assert 'id="btn-fill"' in page and "tries again." in page
    answer = client.post(reverse("tenants:fill", args=[made.pk]), follow=True)
    assert "Copying the original&#x27;s content again" in answer.content.decode()
    made.refresh_from_db()  # sent to the workers (none here), numbered anew
    assert made.restoring and made.restore_kind == "fill" and made.restore_by == requester
    assert made.restore_sent_at is not None and made.restore_tries == 0
    assert 'id="btn-fill"' not in answer.content.decode()  # not while it copies
    # A second press meanwhile is refused, saying why.
    again = client.post(reverse("tenants:fill", args=[made.pk]), follow=True).content.decode()
    assert f"{made.slug} is being filled or restored; wait for it." in again

    note = restores.restore_run(made.pk, made.restore_wakeup)  # what the worker runs
    made.refresh_from_db()
    assert note.startswith(f"Copied the content of {tenant.slug}") and made.cloned_at
    assert query(conn, f"SELECT id, title FROM `{ours}`.wp_posts") == [(1, "written before")]
    page = client.get(made.get_absolute_url()).content.decode()
    assert 'id="btn-fill"' not in page and 'id="btn-promote"' in page
    refused = client.post(reverse("tenants:fill", args=[made.pk]), follow=True).content.decode()
    assert f"{made.slug} already has the content of {tenant.slug}." in refused
