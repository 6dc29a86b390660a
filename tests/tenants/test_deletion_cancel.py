"""A deletion its owner cancels on the page while the purge takes the final backup keeps the
tenant, on the test servers (transactional: the purge's thread and the page share the database)."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from provisioning.models import Run
from tenants import deletion
from tenants.models import AuditEvent, Backup, Tenant
from tests.provisioning.test_kubernetes_engine import reconcile_until_settled
from tests.provisioning.test_storage import s3  # noqa: F401  (the fixture platform needs)
from tests.tenants.jobrunner import FilesJobRunner
from tests.tenants.test_clone import platform  # noqa: F401  (the fixture)
from tests.tenants.test_day2_chain import built_shop  # noqa: F401  (the fixture)
from tests.tenants.test_deletion_now import _still_all_there

pytestmark = pytest.mark.django_db(transaction=True)
Action = AuditEvent.Action


def _purge_in_a_worker(tenant_id: int) -> tuple[threading.Thread, dict]:
    """The worker's purge (tenants.tasks.purge_tenant) on a thread of its own: its outcome."""
    outcome: dict = {}

    def purge() -> None:
        try:
            (due,) = deletion.tenants_due_for_purge(tenant_id)
            outcome["purged"] = deletion.tenant_purge(due)
        except Exception as exc:  # reported by the test: a thread's exception would vanish
            outcome["error"] = exc
        finally:
            connection.close()  # this thread's own

    thread = threading.Thread(target=purge)
    thread.start()
    return thread, outcome


def test_cancelled_on_the_page_while_the_final_backup_runs_the_tenant_stays(
    built_shop,  # noqa: F811
    kube_cluster,
    authentik_api,
    client,
):
    tenant, store, conn, _db, content, work = built_shop
    client.force_login(tenant.owner)
    client.post(reverse("tenants:delete", args=[tenant.pk]), {"confirm_slug": tenant.slug})
    reconcile_until_settled(tenant, kube_cluster)  # the suspension's run
    tenant.refresh_from_db()
    assert tenant.deletion_suspended and tenant.state == Tenant.State.READY, tenant.last_error
    assert kube_cluster.get("Deployment", "wordpress", tenant.namespace)["spec"]["replicas"] == 0
    # The grace period over: the purge's turn.
    Tenant.objects.filter(pk=tenant.pk).update(delete_after=timezone.now() - timedelta(seconds=1))

    release = threading.Event()
    with FilesJobRunner(kube_cluster, content, work, hold=release) as kubelet:
        try:
            purge, outcome = _purge_in_a_worker(tenant.pk)
            # The database dumped, the files Job created and not done: the backup under way.
            assert kubelet.started.wait(30), outcome
            final = tenant.backups.get(reason="final")
            assert final.state == Backup.State.RUNNING
            page = client.get(tenant.get_absolute_url()).content.decode()
            said = "under way: the site is removed once its final backup is taken, unless"
            assert said in page and 'id="btn-cancel-delete"' in page
            assert f'id="backup-progress-{final.pk}"' in page

            answer = client.post(reverse("tenants:cancel_delete", args=[tenant.pk]), follow=True)
            page = answer.content.decode()
            assert f"{tenant.slug} stays; its deletion was cancelled." in page
            assert 'id="delete-after"' not in page and 'id="btn-cancel-delete"' not in page
        finally:
            release.set()
        purge.join(60)
    assert outcome == {"purged": False}

    final.refresh_from_db()
    assert final.state == Backup.State.DONE, final.error
    tenant.refresh_from_db()
    assert tenant.desired_present and tenant.state == Tenant.State.READY, tenant.last_error
    assert tenant.delete_after is None and not tenant.is_suspended
    assert not tenant.deletion_suspended
    assert Run.objects.filter(tenant=tenant, action=Run.Action.APPLY, reason="keep").exists()
    _still_all_there(tenant, store, conn, kube_cluster, authentik_api)
    cancelled = AuditEvent.objects.get(action=Action.TENANT_DELETE_CANCELLED)
    assert cancelled.actor_name == tenant.owner.username
    assert not AuditEvent.objects.filter(action=Action.TENANT_DELETED).exists()
    assert AuditEvent.objects.filter(action=Action.TENANT_BACKED_UP).exists()

    # The run the cancel asked for resumes the site; the final backup is one of its backups.
    reconcile_until_settled(tenant, kube_cluster)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY and not tenant.is_suspended, tenant.last_error
    assert kube_cluster.get("Deployment", "wordpress", tenant.namespace)["spec"]["replicas"] >= 1
    page = client.get(tenant.get_absolute_url()).content.decode()
    row = page.split(f'data-backup="{final.pk}"', 1)[1].split("</tr>", 1)[0]
    assert "(final)" in row and "status-done" in row and "Restore…" in row
