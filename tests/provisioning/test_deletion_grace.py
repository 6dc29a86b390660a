"""Deletion with a grace period on the (fake) cluster: zero pods first, everything gone after."""

from datetime import timedelta

import pytest
from django.utils import timezone

from provisioning.steps import step_classes
from tenants import services
from tenants.models import AuditEvent, Tenant
from tenants.tasks import purge_due_deletions
from tests.provisioning.test_kubernetes_engine import _ready_tenant, reconcile_until_settled

pytestmark = pytest.mark.django_db
NS = "wp-shop"


def test_a_deleted_tenant_is_suspended_then_purged_after_its_grace(
    kube_cluster, django_capture_on_commit_callbacks, settings, client, eager_celery
):
    settings.PORTAL_DELETE_GRACE_DAYS = 14
    capture = django_capture_on_commit_callbacks
    tenant = _ready_tenant(kube_cluster, capture)
    with capture():
        services.tenant_delete(tenant=tenant, actor=tenant.owner)
    reconcile_until_settled(tenant, kube_cluster)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY and tenant.is_suspended, tenant.last_error
    assert kube_cluster.get("Deployment", "wordpress", NS)["spec"]["replicas"] == 0
    assert kube_cluster.get("Namespace", NS) is not None

    Tenant.objects.filter(pk=tenant.pk).update(delete_after=timezone.now() - timedelta(seconds=1))
    with capture():
        purge_due_deletions()
    reconcile_until_settled(tenant, kube_cluster)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.DELETED, tenant.last_error
    assert kube_cluster.get("Namespace", NS) is None
    assert kube_cluster.list("Deployment", NS) == []

    # The teardown's report: every step's destroy, in teardown order, in the deletion's record
    # and on the page.
    event = AuditEvent.objects.get(action=AuditEvent.Action.TENANT_DELETED)
    report = event.after["removed"]
    assert [r["step"] for r in report] == [cls.name for cls in reversed(step_classes())]
    namespace = next(r for r in report if r["step"] == "namespace")
    assert namespace == {
        "step": "namespace",
        "system": "Namespace, quota, limits",
        "outcome": "removed",
        "removed": f"namespace {NS} is gone",
        # Looked up again after the removal: the API server's 404.
        "checked": [{"object": f"namespace {NS} and everything in it", "result": "checked gone"}],
    }
    # The steps left in plan mode removed nothing outside, so looked nothing up.
    assert next(r for r in report if r["step"] == "database")["checked"] is None
    client.force_login(tenant.owner)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert 'id="teardown-report"' in page and f"namespace {NS} is gone" in page
    assert f"namespace {NS} and everything in it: checked gone" in page
