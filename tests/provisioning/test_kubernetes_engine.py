"""The engine provisions an approved tenant on the (fake) cluster until it is ready."""

import pytest

from provisioning import engine, scanlists
from provisioning.drivers.kubernetes import make_driver
from provisioning.models import Run, StepRun
from provisioning.runs import run_request
from tenants.models import AuditEvent, Tenant
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


def _ready_tenant(kube_cluster, capture):
    tenant = TenantFactory(slug="shop", state=Tenant.State.APPROVED)
    with capture():
        run_request(tenant=tenant, action=Run.Action.APPLY, reason="approved")
    reconcile_until_settled(tenant, kube_cluster)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY, tenant.last_error
    return tenant


def _drift_run(tenant, kube_cluster, capture) -> Run:
    with capture():
        run = run_request(tenant=tenant, action=Run.Action.APPLY, reason="drift")
    reconcile_until_settled(tenant, kube_cluster)
    run.refresh_from_db()
    return run


def test_hand_edits_are_put_back_by_the_next_reconcile_and_the_tenant_stays_ready(
    kube_cluster, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    tenant = _ready_tenant(kube_cluster, capture)
    kube_cluster.scale("wordpress", "wp-shop", 3, manager="kubectl")  # kubectl scale
    kube_cluster.remove("NetworkPolicy", "default-deny", "wp-shop")  # kubectl delete

    run = _drift_run(tenant, kube_cluster, capture)
    assert run.status == Run.Status.SUCCEEDED, run.error
    assert "network: NetworkPolicy default-deny is missing" in run.drift
    assert "wordpress: Deployment wordpress: spec.replicas is 3, want 1" in run.drift
    assert kube_cluster.get("NetworkPolicy", "default-deny", "wp-shop") is not None
    assert kube_cluster.get("Deployment", "wordpress", "wp-shop")["spec"]["replicas"] == 1
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY and tenant.last_error == ""
    event = AuditEvent.objects.get(action=AuditEvent.Action.TENANT_DRIFT)
    assert event.message == "Repaired." and event.after == {"differences": run.drift}

    # Repaired means settled: the next drift check finds nothing and writes nothing.
    writes = len(kube_cluster.writes)
    again = _drift_run(tenant, kube_cluster, capture)
    assert again.drift == [] and kube_cluster.writes[writes:] == []


def test_a_deleted_network_policy_is_put_back_even_when_a_later_step_fails(
    kube_cluster, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    tenant = _ready_tenant(kube_cluster, capture)
    kube_cluster.remove("NetworkPolicy", "default-deny", "wp-shop")  # kubectl delete
    kube_cluster.scale("wordpress", "wp-shop", 3, manager="kubectl")
    message = 'Deployment.apps "wordpress" is invalid: spec.template: admission webhook said no'
    kube_cluster.fail("PATCH", r"/deployments/wordpress$", 422, times=5, message=message)

    run = _drift_run(tenant, kube_cluster, capture)
    assert run.status == Run.Status.FAILED and "wordpress" in run.error
    assert kube_cluster.get("NetworkPolicy", "default-deny", "wp-shop") is not None
    network = run.steps.get(name="network")
    assert network.status == StepRun.Status.CHANGED


def test_a_new_tenant_costs_each_object_one_apply_and_little_else(
    kube_cluster, django_capture_on_commit_callbacks
):
    tenant = TenantFactory(slug="shop", state=Tenant.State.APPROVED)
    with django_capture_on_commit_callbacks():
        run_request(tenant=tenant, action=Run.Action.APPLY, reason="approved")
    first = len(kube_cluster.requests)
    assert engine.reconcile(tenant.pk) is not None  # everything applied, the rollout waited for
    first_pass = kube_cluster.requests[first:]
    # The namespace, found missing, is read once; nothing inside it before it is written, and
    # the credentials' Secret is known from its apply.
    assert [p for m, p in first_pass if m == "GET"] == ["/api/v1/namespaces/wp-shop"]
    settled, dry_runs = len(kube_cluster.requests), kube_cluster.dry_runs
    applied = {p for m, p in first_pass if m == "PATCH"}
    kube_cluster.mark_ready()
    Run.objects.filter(tenant=tenant).update(not_before=None)
    reconcile_until_settled(tenant, kube_cluster)
    # Settling reads what it waits for; it writes only what comes after the rollout (the
    # update-db Job), never an object again, and dry-runs nothing.
    later = [p for m, p in kube_cluster.requests[settled:] if m != "GET"]
    assert later and not applied & set(later) and all("/jobs/" in p for p in later)
    assert kube_cluster.dry_runs == dry_runs
    objects = {w.path.split("?")[0] for w in kube_cluster.writes}
    assert len(kube_cluster.requests[first:]) <= 1.5 * len(objects)  # issue 14


def test_a_drift_scan_lists_each_kind_once_across_tenants_and_reads_only_their_secrets(
    kube_cluster, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    tenants = []
    for slug in ("shop", "blog", "news"):
        tenant = TenantFactory(slug=slug, state=Tenant.State.APPROVED)
        with capture():
            run_request(tenant=tenant, action=Run.Action.APPLY, reason="approved")
        reconcile_until_settled(tenant, kube_cluster)
        tenants.append(tenant)
    kube_cluster.create(  # not the portal's: no list the scan makes may carry it
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "x", "namespace": "default"},
            "spec": {"ports": [{"port": 80}]},
        }
    )
    scanlists.forget()
    first = len(kube_cluster.accesses)
    with capture():  # as the sweep queues them: all at once, then run one by one
        runs = [run_request(tenant=t, action=Run.Action.APPLY, reason="drift") for t in tenants]
    for tenant, run in zip(tenants, runs, strict=True):
        reconcile_until_settled(tenant, kube_cluster)
        run.refresh_from_db()
        assert run.status == Run.Status.SUCCEEDED and run.drift == [], run.error
    scan = kube_cluster.accesses[first:]
    gets = {(a.resource, a.namespace) for a in scan if a.verb == "get"}
    assert gets == {("secrets", f"wp-{t.slug}") for t in tenants}  # one each, in its namespace
    lists = sorted((a.group, a.resource, a.namespace) for a in scan if a.verb == "list")
    plurals = {(kind, api) for api, kind in scanlists.LISTED}
    assert len(lists) == len(plurals) and not any(namespace for _, _, namespace in lists)
    assert "secrets" not in {resource for _, resource, _ in lists}
    services = scanlists.listed(make_driver(), "v1", "Service", 0)  # what the scan kept
    assert ("wp-shop", "wordpress") in services and ("default", "x") not in services

    # A hand edit after the scan is found by the next one: a check lists anew once asked for.
    kube_cluster.scale("wordpress", "wp-blog", 3, manager="kubectl")
    run = _drift_run(tenants[1], kube_cluster, capture)
    assert "wordpress: Deployment wordpress: spec.replicas is 3, want 1" in run.drift
    assert kube_cluster.get("Deployment", "wordpress", "wp-blog")["spec"]["replicas"] == 1
