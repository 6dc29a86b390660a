"""Deletion with no grace period (or an operator's, at once), on the test servers: the final
backup first, by the purge's own path, and nothing torn down while it isn't saved."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from provisioning import engine
from provisioning.models import Run
from tenants import services
from tenants.models import AuditEvent, Backup, Tenant
from tenants.states import tenant_transition
from tenants.tasks import purge_due_deletions, purge_tenant
from tests.provisioning.test_database import query
from tests.provisioning.test_kubernetes_engine import reconcile_until_settled
from tests.provisioning.test_storage import s3  # noqa: F401  (the fixture platform needs)
from tests.tenants.jobrunner import FilesJobRunner
from tests.tenants.test_clone import platform  # noqa: F401  (the fixture)
from tests.tenants.test_day2_chain import (  # noqa: F401  (built_shop, shop: the fixtures)
    _listed,
    _nothing_of_it_outside,
    built_shop,
    shop,
)

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action


@pytest.fixture
def bare_shop(shop, settings):  # noqa: F811
    """The shop on a portal with no grace period."""
    settings.PORTAL_DELETE_GRACE_DAYS = 0
    return shop


def _still_all_there(tenant: Tenant, store, conn, kube, authentik) -> None:
    assert kube.get("Namespace", tenant.namespace) is not None
    assert query(conn, "SHOW DATABASES LIKE %s", [f"wp_{tenant.slug}"]) != []
    assert authentik.provider_named(f"wp-{tenant.slug}") is not None
    assert _listed(store, tenant.s3_bucket, f"tenants/{tenant.slug}/") != set()
    assert not Run.objects.filter(tenant=tenant, action=Run.Action.DESTROY).exists()
    assert not AuditEvent.objects.filter(action=Action.TENANT_DELETE_REQUESTED).exists()


def _purged(tenant: Tenant, kube, capture) -> Backup:
    """The worker's purge: the final backup, done, then the teardown's run to its end."""
    with capture():
        purge_tenant(tenant.pk)
    final = tenant.backups.filter(reason="final").first()
    assert final.state == Backup.State.DONE, final.error
    reconcile_until_settled(tenant, kube)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.DELETED, tenant.last_error
    return final


def test_with_no_grace_deleting_takes_the_final_backup_then_tears_everything_down(
    bare_shop, kube_cluster, authentik_api, client, django_capture_on_commit_callbacks
):
    tenant, store, conn, _db, _content = bare_shop
    capture = django_capture_on_commit_callbacks
    client.force_login(tenant.owner)
    url = reverse("tenants:delete", args=[tenant.pk])
    page = client.get(url).content.decode()
    days = tenant.plan.backup_retention_days
    assert "a final backup of its database and files is taken" in page
    assert f"The final backup is kept for {days} days (the plan's retention)" in page
    assert "cancel the deletion" not in page and "can't be undone" not in page

    with capture() as queued:
        answer = client.post(url, {"confirm_slug": tenant.slug}, follow=True)
    assert "is suspended and deleted once its final backup is taken" in answer.content.decode()
    tenant.refresh_from_db()
    # Saved before anything goes: suspended and due, the purge queued for a worker.
    assert tenant.desired_present and tenant.is_suspended and tenant.delete_after is not None
    assert any("purge_tenant" in q.__code__.co_freevars for q in queued), queued
    _still_all_there(tenant, store, conn, kube_cluster, authentik_api)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert "under way: the site is removed once its final backup is taken" in page

    # The suspension's run under way (the tenant "provisioning") when the purge comes: a site
    # all the same, saved first.
    with capture():
        assert engine.reconcile(tenant.pk) is not None
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.PROVISIONING
    final = _purged(tenant, kube_cluster, capture)  # the worker's part
    assert tenant.backups.filter(reason="final").count() == 1
    _nothing_of_it_outside(tenant, store, conn, kube_cluster, authentik_api)
    # The final backup outlives the teardown: its dump, its files and its manifest.
    kept = _listed(store, tenant.s3_bucket, final.prefix)
    names = {"manifest.json", "database.sql.gz", "files.tar.gz"}
    assert {final.prefix + name for name in names} <= kept, kept


def test_a_failed_final_backup_tears_nothing_down_and_says_why(
    built_shop,  # noqa: F811
    kube_cluster,
    authentik_api,
    client,
    settings,
    django_capture_on_commit_callbacks,
    eager_celery,  # the beat's purge sends a worker's: here, in this process
):
    tenant, store, conn, _db, content, work = built_shop
    settings.PORTAL_DELETE_GRACE_DAYS = 0
    capture = django_capture_on_commit_callbacks
    with capture():
        services.tenant_delete(tenant=tenant, actor=tenant.owner)
    with FilesJobRunner(kube_cluster, content, work, fail=True), capture():
        purge_tenant(tenant.pk)
    final = tenant.backups.get(reason="final")
    assert final.state == Backup.State.FAILED
    assert "BackoffLimitExceeded" in final.error
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY and tenant.desired_present
    _still_all_there(tenant, store, conn, kube_cluster, authentik_api)
    event = AuditEvent.objects.filter(action=Action.TENANT_BACKUP_FAILED).get()
    assert "BackoffLimitExceeded" in event.message
    client.force_login(tenant.owner)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert "not done: the final backup failed" in page and "BackoffLimitExceeded" in page
    assert "Nothing was removed" in page and 'id="btn-cancel-delete"' in page

    # The next look of the beat, with the files Job working again: saved, then torn down.
    with FilesJobRunner(kube_cluster, content, work), capture():
        purge_due_deletions()
    final = tenant.backups.filter(reason="final").first()
    assert final.state == Backup.State.DONE, final.error
    reconcile_until_settled(tenant, kube_cluster)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.DELETED, tenant.last_error


def test_the_operators_delete_now_takes_the_final_backup_too(
    shop,  # noqa: F811
    kube_cluster,
    authentik_api,
    settings,
    django_capture_on_commit_callbacks,
):
    tenant, store, conn, _db, _content = shop
    settings.PORTAL_DELETE_GRACE_DAYS = 14  # the command has none all the same
    out = io.StringIO()
    with django_capture_on_commit_callbacks():
        call_command("tenant_deprovision", tenant.slug, "--yes", stdout=out)
    assert f"{tenant.slug}: final backup queued; the teardown follows it" in out.getvalue()
    tenant.refresh_from_db()
    _still_all_there(tenant, store, conn, kube_cluster, authentik_api)
    _purged(tenant, kube_cluster, django_capture_on_commit_callbacks)


def test_a_site_under_a_run_or_already_due_is_saved_before_it_goes(
    bare_shop, kube_cluster, authentik_api, approver, django_capture_on_commit_callbacks
):
    tenant, store, conn, _db, _content = bare_shop
    capture = django_capture_on_commit_callbacks
    # A run under way on the ready site (a plan change, say): "provisioning", a site all the same.
    assert tenant_transition(tenant_id=tenant.pk, to=Tenant.State.PROVISIONING)
    tenant.refresh_from_db()
    with capture():
        services.tenant_delete(tenant=tenant, actor=tenant.owner)
    tenant.refresh_from_db()
    assert tenant.delete_after is not None
    _still_all_there(tenant, store, conn, kube_cluster, authentik_api)
    # Asked again (the API, the operator's delete now) while it waits: tried again, not at once.
    with capture():
        services.tenant_delete(tenant=tenant, actor=approver, now=True)
    tenant.refresh_from_db()
    _still_all_there(tenant, store, conn, kube_cluster, authentik_api)
    assert AuditEvent.objects.filter(action=Action.TENANT_DELETE_SCHEDULED).count() == 2

    _purged(tenant, kube_cluster, capture)


def test_the_operators_wait_says_why_the_final_backup_failed_and_nothing_goes(
    built_shop,  # noqa: F811
    kube_cluster,
    authentik_api,
    settings,
):
    tenant, store, conn, _db, content, work = built_shop
    settings.CELERY_BROKER_URL = "filesystem://"  # a laptop's: --wait takes the purge's turn
    out = io.StringIO()
    with (
        FilesJobRunner(kube_cluster, content, work, fail=True),
        pytest.raises(CommandError) as refused,
    ):
        call_command("tenant_deprovision", tenant.slug, "--yes", "--wait", stdout=out)
    assert f"{tenant.slug}: taking the final backup" in out.getvalue()
    said = str(refused.value)
    assert said.startswith(f"{tenant.slug}: not deleted, the final backup failed: "), said
    assert "BackoffLimitExceeded" in said and "Nothing was removed" in said
    tenant.refresh_from_db()
    _still_all_there(tenant, store, conn, kube_cluster, authentik_api)
