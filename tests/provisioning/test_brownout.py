"""The brownout drill: with a fifth of the Kubernetes fake's answers 500, 429 or slow, every
tenant still ends ready, and nothing is made twice."""

from collections import Counter

from provisioning import engine
from provisioning.models import Run, StepRun
from tenants import services
from tenants.models import Tenant
from tests.factories import TenantFactory


def test_twenty_tenants_under_a_kubernetes_brownout_all_end_ready(
    requester, approver, kube_cluster, settings, django_capture_on_commit_callbacks
):
    settings.PORTAL_STEPS = [
        "provisioning.steps.namespace.NamespaceStep",
        "provisioning.steps.network.NetworkStep",
    ]
    kube_cluster.retry_after[429] = "0"  # honoured, and quick for the test
    tenants = [TenantFactory(owner=requester, slug=f"brown{i}") for i in range(20)]
    with django_capture_on_commit_callbacks(execute=False):  # the test is the worker
        for tenant in tenants:
            services.tenant_approve(tenant_id=tenant.pk, actor=approver)
        chaos = kube_cluster.unreliable(0.2, seed=7, delay=0.2)
        for _ in range(20):  # passes over every tenant, as queued messages would come
            open_runs = Run.objects.filter(tenant__in=tenants, status__in=Run.OPEN)
            if not open_runs.exists():
                break
            open_runs.update(not_before=None)  # due now: the test doesn't sleep the backoff
            for tenant in tenants:
                engine.reconcile(tenant.pk)
    kube_cluster.unreliable(0)

    assert chaos.injected["500"] and chaos.injected["429"] and chaos.injected["delay"]
    states = Counter(
        Tenant.objects.filter(pk__in=[t.pk for t in tenants]).values_list("state", flat=True)
    )
    assert states == {Tenant.State.READY: 20}, states
    namespaces = [
        o for o in kube_cluster.list("Namespace") if o["metadata"]["name"].startswith("wp-brown")
    ]
    assert len(namespaces) == 20
    # The requests rode the brownout out themselves: no step attempt was lost to it.
    steps = StepRun.objects.filter(run__tenant__in=tenants)
    assert sorted(set(steps.values_list("attempts", flat=True))) == [1]
    assert all(run.token == 1 for run in Run.objects.filter(tenant__in=tenants))
