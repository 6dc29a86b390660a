"""The engine provisions an approved tenant on the (fake) cluster until it is ready."""

import pytest

from provisioning import engine
from provisioning.models import Run, StepRun
from provisioning.runs import run_request
from tenants.models import Tenant
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db


def reconcile_until_settled(tenant, fake, rounds: int = 12) -> None:
    for _ in range(rounds):
        delay = engine.reconcile(tenant.pk)
        if delay is None:
            return
        fake.mark_ready()  # the cluster's controllers catch up meanwhile
        Run.objects.filter(tenant=tenant).update(not_before=None)  # time has passed
    raise AssertionError("the tenant never settled")


def test_an_approved_tenant_becomes_ready_on_the_cluster(
    kube_cluster, django_capture_on_commit_callbacks
):
    tenant = TenantFactory(slug="shop", state=Tenant.State.APPROVED)
    with django_capture_on_commit_callbacks():  # the Celery task is not needed: we drive it
        run_request(tenant=tenant, action=Run.Action.APPLY, reason="approved")
    reconcile_until_settled(tenant, kube_cluster)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY, tenant.last_error
    run = tenant.runs.get()
    wordpress = run.steps.get(name="wordpress")
    assert wordpress.status == StepRun.Status.CHANGED
    assert "still running" in wordpress.log  # it waited for the install Job
    assert kube_cluster.get("Deployment", "wordpress", "wp-shop") is not None
    assert len(kube_cluster.list("NetworkPolicy", "wp-shop")) == 5

    # A second reconcile of the unchanged tenant changes nothing on the cluster.
    writes = len(kube_cluster.writes)
    with django_capture_on_commit_callbacks():
        again = run_request(tenant=tenant, action=Run.Action.APPLY, reason="reconcile")
    reconcile_until_settled(tenant, kube_cluster)
    assert kube_cluster.writes[writes:] == []
    kube_steps = again.steps.filter(name__in=["namespace", "wordpress", "network"])
    assert {s.status for s in kube_steps} == {StepRun.Status.UNCHANGED}
