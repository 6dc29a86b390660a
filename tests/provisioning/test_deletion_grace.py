"""Deletion with a grace period on the (fake) cluster: zero pods first, everything gone after."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tenants import services
from tenants.models import Tenant
from tenants.tasks import purge_due_deletions
from tests.provisioning.test_kubernetes_engine import _ready_tenant, reconcile_until_settled

pytestmark = pytest.mark.django_db
NS = "wp-shop"


def test_a_deleted_tenant_is_suspended_then_purged_after_its_grace(
    kube_cluster, django_capture_on_commit_callbacks, settings
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
