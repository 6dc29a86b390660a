"""One tenant's later years in one go on the test servers: a failed upgrade rolled back (image
and database), then deleted, its final backup outliving the teardown, recreated from it within
retention, and, deleted again, nothing left once retention has passed."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning import engine
from provisioning.models import Run
from provisioning.runs import run_request
from tenants import recreate, restores, services, upgrade
from tenants.models import AuditEvent, Backup, Tenant
from tenants.tasks import purge_due_deletions, scheduled_backups
from tests.factories import TenantFactory
from tests.provisioning.test_database import query
from tests.provisioning.test_kubernetes_engine import reconcile_until_settled
from tests.provisioning.test_storage import s3  # noqa: F401  (the fixture platform needs)
from tests.provisioning.test_upgrade import give_up_rollouts
from tests.tenants.jobrunner import FilesJobRunner
from tests.tenants.test_backups import wordpress_tables
from tests.tenants.test_clone import _built, platform  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action
THEME = ("themes", "shop", "style.css")


@pytest.fixture
def built_shop(platform, settings, requester, approver, kube_cluster, tmp_path):  # noqa: F811
    """A ready tenant on WordPress 6.7, every step on its test server: a row, a media file and a
    theme in wp-content, its volume's folder here (and one for the files Jobs' work)."""
    store, conn, made = platform
    settings.PORTAL_DELETE_GRACE_DAYS = 14
    slug = f"y{uuid.uuid4().hex[:8]}"
    made.append(slug)
    tenant = TenantFactory(
        owner=requester,
        slug=slug,
        state=Tenant.State.APPROVED,
        s3_bucket=settings.PORTAL_S3_BUCKET,
        wordpress_version="6.7",
        decided_by=approver,
        decided_at=timezone.now(),
    )
    run_request(tenant=tenant, action=Run.Action.APPLY, reason="approved")
    tenant = _built(tenant, kube_cluster)
    db = f"wp_{slug}"
    query(conn, f"CREATE TABLE `{db}`.wp_posts (id INT PRIMARY KEY, title VARCHAR(50))")
    query(conn, f"INSERT INTO `{db}`.wp_posts VALUES (1, 'written before')")
    wordpress_tables(conn, db, f"https://{tenant.host}")
    store.put_object(Bucket=tenant.s3_bucket, Key=f"tenants/{slug}/2026/12/logo.png", Body=b"logo")
    content, work = tmp_path / "wp-content", tmp_path / "work"
    content.joinpath(*THEME[:-1]).mkdir(parents=True)
    content.joinpath(*THEME).write_text("/* the shop's */")
    work.mkdir()
    return tenant, store, conn, db, content, work


@pytest.fixture
def shop(built_shop, kube_cluster):
    """The shop, its files Jobs run here on its folder."""
    tenant, store, conn, db, content, work = built_shop
    with FilesJobRunner(kube_cluster, content, work):
        yield tenant, store, conn, db, content


def _image(kube, namespace: str) -> str:
    deployment = kube.get("Deployment", "wordpress", namespace)
    return deployment["spec"]["template"]["spec"]["containers"][0]["image"]


def _listed(store, bucket: str, prefix: str) -> set[str]:
    return {
        o["Key"] for o in store.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
    }


def _delete_and_purge(tenant: Tenant, kube, capture) -> Backup:
    """Deleted by its owner (suspended for the grace period), then purged once it is over: the
    final backup, then the teardown's run, to its end."""
    with capture():
        services.tenant_delete(tenant=tenant, actor=tenant.owner)
    reconcile_until_settled(tenant, kube)
    tenant.refresh_from_db()
    assert tenant.is_suspended and tenant.delete_after is not None, tenant.last_error
    assert kube.get("Deployment", "wordpress", tenant.namespace)["spec"]["replicas"] == 0
    Tenant.objects.filter(pk=tenant.pk).update(delete_after=timezone.now() - timedelta(seconds=1))
    with capture():
        purge_due_deletions()
    final = tenant.backups.filter(reason="final").latest("pk")
    assert final.state == Backup.State.DONE, final.error
    reconcile_until_settled(tenant, kube)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.DELETED, tenant.last_error
    return final


def _nothing_of_it_outside(tenant: Tenant, store, conn, kube, authentik) -> None:
    slug, db = tenant.slug, f"wp_{tenant.slug}"
    assert kube.get("Namespace", tenant.namespace) is None
    assert query(conn, "SHOW DATABASES LIKE %s", [db]) == []
    assert query(conn, "SELECT User FROM mysql.user WHERE User = %s", [db]) == []
    assert authentik.provider_named(f"wp-{slug}") is None
    assert _listed(store, tenant.s3_bucket, f"tenants/{slug}/") == set()


def test_a_failed_upgrade_then_delete_recreate_from_the_final_backup_and_purge(
    shop,
    platform,  # noqa: F811
    kube_cluster,
    authentik_api,
    approver,
    client,
    django_capture_on_commit_callbacks,
    eager_celery,  # the beat's purge has a worker take each due tenant: here, in this process
):
    tenant, store, conn, db, content = shop
    capture, kube, ns = django_capture_on_commit_callbacks, kube_cluster, tenant.namespace
    assert _image(kube, ns).endswith(":6.7")

    # 1. An upgrade whose new pods never become ready: the old image and the database back.
    with capture():
        upgrade.tenant_upgrade(tenant=tenant, actor=tenant.owner, version="6.8")
    before = tenant.backups.get(reason="before upgrade")
    with capture():
        tenant = upgrade.upgrade_start(before.pk)  # the worker's part: the backup, the run
    before.refresh_from_db()
    assert before.state == Backup.State.DONE, before.error
    assert tenant.wordpress_version == "6.8"
    with capture():
        assert engine.reconcile(tenant.pk) is not None  # the rollout under way
    query(conn, f"UPDATE `{db}`.wp_posts SET title = 'migrated by 6.8'")  # the new core's
    give_up_rollouts(kube)
    Run.objects.filter(tenant=tenant).update(not_before=None)
    with capture():
        engine.reconcile(tenant.pk)
    tenant.refresh_from_db()
    assert tenant.wordpress_version == "6.7", tenant.upgrade_note
    assert "timed out progressing" in tenant.upgrade_note
    upgrade.upgrade_database_restore(before.pk)  # the worker's part, queued by the failure
    reconcile_until_settled(tenant, kube)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY, tenant.last_error
    assert _image(kube, ns).endswith(":6.7")
    assert query(conn, f"SELECT id, title FROM `{db}`.wp_posts") == [(1, "written before")]
    client.force_login(tenant.owner)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert "rolled back to 6.7" in page and "The database was put back as it was before" in page

    # 2. Deleted: a final backup of the rolled-back site, then everything outside it gone,
    # looked up again by the teardown; the final backup outlives it.
    final = _delete_and_purge(tenant, kube, capture)
    _nothing_of_it_outside(tenant, store, conn, kube, authentik_api)
    backups_prefix = f"backups/{tenant.slug}/"
    assert final.prefix + "manifest.json" in _listed(store, tenant.s3_bucket, backups_prefix)
    report = AuditEvent.objects.filter(action=Action.TENANT_DELETED).latest("pk").after["removed"]
    checks = [check for item in report for check in item["checked"] or []]
    assert {item["step"] for item in report if item["checked"]} >= {"namespace", "database"}
    assert checks and all(check["result"] == "checked gone" for check in checks), checks
    content.joinpath(*THEME).unlink()  # the volume went with the namespace

    # 3. Within retention a platform admin recreates it from the final backup: built again,
    # then filled; the row, the media and wp-content come back.
    with capture():
        recreate.tenant_recreate(tenant=tenant, actor=approver)
    reconcile_until_settled(tenant, kube)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY and tenant.restoring, tenant.last_error
    restores.restore_run(tenant.pk, tenant.restore_wakeup)  # the worker's part
    tenant.refresh_from_db()
    assert not tenant.restoring and tenant.restore_note.startswith("Restored the backup of"), (
        tenant.restore_note
    )
    assert query(conn, f"SELECT id, title FROM `{db}`.wp_posts") == [(1, "written before")]
    logo = store.get_object(Bucket=tenant.s3_bucket, Key=f"tenants/{tenant.slug}/2026/12/logo.png")
    assert logo["Body"].read() == b"logo"
    assert content.joinpath(*THEME).read_text() == "/* the shop's */"
    assert _image(kube, ns).endswith(":6.7")

    # 4. Deleted again and left past retention: its backups expire and nothing of it is left.
    _delete_and_purge(tenant, kube, capture)
    _nothing_of_it_outside(tenant, store, conn, kube, authentik_api)
    old = timezone.now() - timedelta(days=tenant.plan.backup_retention_days + 1)
    Backup.objects.filter(tenant=tenant).update(created_at=old, finished_at=old)
    with capture():
        scheduled_backups()
    assert not tenant.backups.exists()
    assert _listed(store, tenant.s3_bucket, backups_prefix) == set()
