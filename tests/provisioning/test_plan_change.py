"""A plan change on the (fake) cluster: quota and resources follow; a volume resize the cluster
can't make now is said in words and the rest of the change still applies."""

import pytest

from provisioning.models import Run as EngineRun
from provisioning.spec import spec_for
from provisioning.steps.wordpress import WordPressStep
from tenants import plan_change
from tenants.models import Tenant
from tests.factories import TenantFactory, plan
from tests.provisioning.test_kubernetes import Run
from tests.provisioning.test_kubernetes_engine import _ready_tenant, reconcile_until_settled

pytestmark = pytest.mark.django_db
NS = "wp-shop"


def _claim_size(fake) -> str:
    claim = fake.get("PersistentVolumeClaim", "wordpress-content", NS)
    return claim["spec"]["resources"]["requests"]["storage"]


def test_an_approved_larger_plan_moves_quota_resources_and_volume(
    kube_cluster, django_capture_on_commit_callbacks, approver
):
    capture = django_capture_on_commit_callbacks
    tenant = _ready_tenant(kube_cluster, capture)
    assert plan_change.tenant_change_plan(
        tenant=tenant, actor=tenant.owner, plan=plan("medium")
    ) == (plan_change.REQUESTED)
    with capture():
        plan_change.tenant_change_plan(tenant=tenant, actor=approver, plan=plan("medium"))
    reconcile_until_settled(tenant, kube_cluster)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY, tenant.last_error
    assert kube_cluster.get("ResourceQuota", "tenant-quota", NS)["spec"]["hard"]["pods"] == "10"
    deployment = kube_cluster.get("Deployment", "wordpress", NS)
    assert deployment["spec"]["replicas"] == 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"cpu": "1", "memory": "1Gi"}
    assert _claim_size(kube_cluster) == "20Gi"
    assert tenant.runs.filter(reason="plan change", status=EngineRun.Status.SUCCEEDED).exists()


@pytest.fixture
def provisioned(kube_cluster):
    tenant = TenantFactory(slug="shop")
    run = Run(spec_for(tenant), kube_cluster)
    run.provision()
    assert _claim_size(kube_cluster) == "5Gi"
    return tenant, run


def _move(tenant, run, to: str) -> list[str]:
    tenant.plan = plan(to)
    run.spec = spec_for(tenant)
    step = run.step(WordPressStep)
    step.apply()
    return run.log


def test_a_claim_not_bound_yet_keeps_its_size_and_the_rest_applies(provisioned, kube_cluster):
    tenant, run = provisioned
    with kube_cluster.lock:
        for obj in kube_cluster.objects.values():
            if obj["kind"] == "PersistentVolumeClaim":
                obj["status"] = {"phase": "Pending"}
    log = _move(tenant, run, "medium")
    assert any(
        "a claim is resized only once it is bound, and this one is Pending" in m for m in log
    )
    assert _claim_size(kube_cluster) == "5Gi"
    assert kube_cluster.get("Deployment", "wordpress", NS)["spec"]["replicas"] == 2


def test_a_class_without_expansion_is_said_in_words_and_the_rest_applies(provisioned, kube_cluster):
    tenant, run = provisioned
    kube_cluster.expandable_claims = False
    log = _move(tenant, run, "medium")
    refusal = next(m for m in log if "the cluster refused to grow it" in m)
    assert "storageclass that provisions the pvc must support resize" in refusal
    assert _claim_size(kube_cluster) == "5Gi"
    assert kube_cluster.get("Deployment", "wordpress", NS)["spec"]["replicas"] == 2


def test_a_smaller_volume_is_never_asked_for(kube_cluster):
    tenant = TenantFactory(slug="shop", plan=plan("medium"))
    run = Run(spec_for(tenant), kube_cluster)
    run.provision()
    log = _move(tenant, run, "small")
    assert any("a volume never shrinks" in m for m in log)
    assert _claim_size(kube_cluster) == "20Gi"
    assert kube_cluster.get("Deployment", "wordpress", NS)["spec"]["replicas"] == 1
