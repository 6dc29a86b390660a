"""Recreating a deleted tenant from its final backup: the engine builds it, the restore fills it."""

import shutil

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.errors import ApplicationError
from provisioning import engine
from provisioning.models import Run
from provisioning.secrets import SECRET_NAME
from tenants import backups, recreate
from tenants.models import AuditEvent, Backup, Tenant
from tests.factories import TenantFactory
from tests.provisioning.test_database import query
from tests.tenants.jobrunner import FilesJobRunner
from tests.tenants.test_backup_files import namespace_made
from tests.tenants.test_backups import site  # noqa: F401  (the fixture)

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action


@pytest.fixture
def deleted(site, kube_cluster, tmp_path, settings):  # noqa: F811
    """The site after its teardown: its final backup taken (wp-content too), then its
    namespace, database and volume's files gone."""
    settings.PORTAL_STEPS = [
        "provisioning.steps.namespace.NamespaceStep",
        "provisioning.steps.database.DatabaseStep",
    ]
    settings.PORTAL_WAIT_FIRST = 0.1
    settings.PORTAL_WAIT_INTERVAL = 1
    tenant, s3, bucket, conn, db = site
    namespace = namespace_made(kube_cluster, tenant)
    content, work = tmp_path / "wp-content", tmp_path / "work"
    (content / "themes" / "shop").mkdir(parents=True)
    (content / "themes" / "shop" / "style.css").write_text("/* the shop's */")
    work.mkdir()
    with FilesJobRunner(kube_cluster, content, work):
        final = backups.backup_final(tenant)
    assert final.state == Backup.State.DONE, final.error
    # The teardown: each of these is a step's destroy (tested with the engine elsewhere).
    kube_cluster.remove("Secret", SECRET_NAME, namespace)
    kube_cluster.remove("Namespace", namespace)
    query(conn, f"DROP DATABASE `{db}`")
    shutil.rmtree(content / "themes")
    Tenant.objects.filter(pk=tenant.pk).update(
        state=Tenant.State.DELETED, desired_present=False, decided_at=timezone.now()
    )
    tenant.refresh_from_db()
    yield tenant, final, conn, db, (kube_cluster, content, work)
    query(conn, f"DROP USER IF EXISTS `{db}`@`%`")


def test_an_admin_recreates_a_deleted_tenant_and_its_rows_come_back(
    deleted, approver, client, requester, django_capture_on_commit_callbacks, eager_celery
):
    tenant, final, conn, db, (kube, content, work) = deleted
    client.force_login(approver)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert 'id="btn-recreate"' in page
    with django_capture_on_commit_callbacks() as queued:
        answer = client.post(reverse("tenants:recreate", args=[tenant.pk]), follow=True)
    assert f"then the backup of {final} is restored into it" in answer.content.decode()
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.APPROVED and tenant.desired_present
    assert tenant.restoring and "built again first" in tenant.restore_note
    run = Run.objects.get(tenant=tenant, reason="recreate")
    assert len(queued) == 1  # the run's message, once committed
    event = AuditEvent.objects.get(action=Action.TENANT_RECREATED)
    assert event.actor == approver and event.after["backup"] == final.prefix

    # The engine's run (a worker's part) builds the database again; once the tenant is ready
    # the restore is sent, and the restore service loads the final backup.
    with FilesJobRunner(kube, content, work), django_capture_on_commit_callbacks(execute=True):
        engine.reconcile(tenant.pk)
    run.refresh_from_db()
    tenant.refresh_from_db()
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert tenant.state == Tenant.State.READY
    assert not tenant.restoring, tenant.restore_note
    assert tenant.restore_note.startswith("Restored the backup of"), tenant.restore_note
    assert query(conn, f"SELECT id, title FROM `{db}`.wp_posts") == [(1, "written before")]
    assert (content / "themes" / "shop" / "style.css").read_text() == "/* the shop's */"
    assert kube.get("Namespace", f"wp-{tenant.slug}") is not None
    assert tenant.backups.get(reason="before restore").state == Backup.State.DONE
    restored = AuditEvent.objects.get(action=Action.TENANT_RESTORED)
    assert restored.actor == approver and restored.after["backup"] == final.prefix
    client.force_login(requester)  # the owner reads how it went
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert "Restored the backup of" in page and 'id="btn-recreate"' not in page


def test_recreating_is_refused_where_it_makes_no_sense_and_audited(deleted, requester, approver):
    tenant, final, *_ = deleted
    with pytest.raises(ApplicationError, match="Only a platform admin can recreate"):
        recreate.tenant_recreate(tenant=tenant, actor=requester)
    ready = TenantFactory(owner=requester, state=Tenant.State.READY)
    with pytest.raises(ApplicationError, match="Only a deleted tenant can be recreated"):
        recreate.tenant_recreate(tenant=ready, actor=approver)
    # Someone took the name meanwhile.
    taker = TenantFactory(owner=requester, slug=tenant.slug, state=Tenant.State.REQUESTED)
    with pytest.raises(ApplicationError, match=f"in use by {tenant.slug} now"):
        recreate.tenant_recreate(tenant=tenant, actor=approver)
    taker.delete()
    # Past retention: nothing left to come back from.
    Backup.objects.filter(tenant=tenant).delete()
    with pytest.raises(ApplicationError, match="No backup of this tenant is left"):
        recreate.tenant_recreate(tenant=tenant, actor=approver)
    refusals = AuditEvent.objects.filter(action=Action.TENANT_REFUSED)
    assert [e.actor for e in refusals] == [approver, approver, approver, requester]
    assert all(e.message.startswith("recreate: ") for e in refusals)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.DELETED and not Run.objects.filter(tenant=tenant).exists()
