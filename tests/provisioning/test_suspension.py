"""Suspend and resume on the (fake) cluster: zero pods and the maintenance route, then back."""

import pytest
from django.conf import settings

from provisioning.models import Run
from provisioning.runs import run_request
from tenants import suspension
from tenants.models import AuditEvent
from tests.provisioning.test_kubernetes_engine import _ready_tenant, reconcile_until_settled

pytestmark = pytest.mark.django_db

NS = "wp-shop"


def _backend(kube) -> dict:
    ingress = kube.get("Ingress", "wordpress", NS)
    return ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]


def _settle(tenant, kube, capture, act) -> None:
    with capture():
        act()
    reconcile_until_settled(tenant, kube)
    tenant.refresh_from_db()


def test_suspend_scales_to_zero_and_routes_the_host_to_maintenance_and_resume_restores(
    kube_cluster, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    tenant = _ready_tenant(kube_cluster, capture)
    owner = tenant.owner
    assert _backend(kube_cluster)["name"] == "wordpress"

    _settle(
        tenant,
        kube_cluster,
        capture,
        lambda: suspension.tenant_suspend(tenant=tenant, actor=owner, reason="on holiday"),
    )
    assert tenant.state == "ready" and tenant.is_suspended, tenant.last_error
    assert kube_cluster.get("Deployment", "wordpress", NS)["spec"]["replicas"] == 0
    assert _backend(kube_cluster) == {"name": "wordpress-suspended", "port": {"number": 80}}
    alias = kube_cluster.get("Service", "wordpress-suspended", NS)
    assert alias["spec"]["type"] == "ExternalName"
    assert alias["spec"]["externalName"] == settings.PORTAL_MAINTENANCE_HOST
    event = AuditEvent.objects.get(action=AuditEvent.Action.TENANT_SUSPENDED)
    assert event.message == "on holiday" and event.after["suspended"] is True

    # The drift sweep keeps the suspension: a hand scale-up is put back to zero.
    kube_cluster.scale("wordpress", NS, 1, manager="kubectl")
    _settle(
        tenant,
        kube_cluster,
        capture,
        lambda: run_request(tenant=tenant, action=Run.Action.APPLY, reason="drift"),
    )
    assert kube_cluster.get("Deployment", "wordpress", NS)["spec"]["replicas"] == 0
    assert _backend(kube_cluster)["name"] == "wordpress-suspended"

    _settle(
        tenant,
        kube_cluster,
        capture,
        lambda: suspension.tenant_resume(tenant=tenant, actor=owner),
    )
    assert tenant.state == "ready" and not tenant.is_suspended, tenant.last_error
    replicas = kube_cluster.get("Deployment", "wordpress", NS)["spec"]["replicas"]
    assert replicas == tenant.plan.replicas
    assert _backend(kube_cluster) == {"name": "wordpress", "port": {"name": "http"}}
    assert kube_cluster.get("Service", "wordpress-suspended", NS) is None
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_RESUMED).count() == 1

    # Resumed means settled: another reconcile writes nothing.
    writes = len(kube_cluster.writes)
    _settle(
        tenant,
        kube_cluster,
        capture,
        lambda: run_request(tenant=tenant, action=Run.Action.APPLY, reason="drift"),
    )
    assert kube_cluster.writes[writes:] == []


def test_resume_brings_back_a_count_above_one(kube_cluster, django_capture_on_commit_callbacks):
    # The small plan's one replica is also Kubernetes' default: a resume that dropped the count
    # would pass for it; the medium plan's two would not.
    from tests.factories import TenantFactory, plan

    capture = django_capture_on_commit_callbacks
    tenant = TenantFactory(slug="shop", plan=plan("medium"), state="approved")
    _settle(
        tenant,
        kube_cluster,
        capture,
        lambda: run_request(tenant=tenant, action=Run.Action.APPLY, reason="approved"),
    )
    assert kube_cluster.get("Deployment", "wordpress", NS)["spec"]["replicas"] == 2
    _settle(
        tenant, kube_cluster, capture, lambda: suspension.tenant_suspend(tenant=tenant, actor=None)
    )
    assert kube_cluster.get("Deployment", "wordpress", NS)["spec"]["replicas"] == 0
    _settle(
        tenant, kube_cluster, capture, lambda: suspension.tenant_resume(tenant=tenant, actor=None)
    )
    assert tenant.state == "ready" and not tenant.is_suspended, tenant.last_error
    assert kube_cluster.get("Deployment", "wordpress", NS)["spec"]["replicas"] == 2
    assert _backend(kube_cluster)["name"] == "wordpress"
