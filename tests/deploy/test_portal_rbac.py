"""The portal's RBAC is what its Kubernetes driver uses: measured, enforced, nothing more."""

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from provisioning import engine, scanlists
from provisioning.drivers.kubernetes import (
    _PLURALS,
    KubernetesSecrets,
    make_driver,
    restart_workload,
)
from provisioning.errors import StepFailed
from provisioning.models import Run
from provisioning.podmetrics import pod_use
from provisioning.runs import run_request
from provisioning.spec import spec_for
from tenants.models import Tenant
from tenants.services import tenant_delete
from tests.deploy.rbac import RBAC, PortalRbac, rendered
from tests.factories import TenantFactory, UserFactory
from tests.fakes.kube import Access, FakeKube

ROOT = Path(__file__).resolve().parents[2]
# The tests whose requests to the fake API are the driver's and the engine's own.
DRIVER_TESTS = [
    "tests/provisioning/test_kubernetes.py",
    "tests/provisioning/test_kubernetes_engine.py",
    "tests/provisioning/test_database_rotate.py",
    "tests/provisioning/test_credentials_rollout.py",
]
BIND = (RBAC, "clusterroles", "bind")
# What the drift scan lists across namespaces besides the namespaces and RoleBindings.
LISTED_CLUSTER_WIDE = {
    "resourcequotas",
    "limitranges",
    "serviceaccounts",
    "services",
    "persistentvolumeclaims",
    "deployments",
    "jobs",
    "ingresses",
    "networkpolicies",
}
# The Metrics API's PodMetrics (metrics.k8s.io "pods"), listed once a sampling run.
METRICS = ("metrics.k8s.io", "pods", "list")


@pytest.fixture(scope="module")
def manifests() -> list[dict]:
    return rendered()


@pytest.fixture
def enforced(manifests, tmp_path, settings):
    """A fake API server that answers 403 to whatever the rendered RBAC doesn't allow."""
    rbac = PortalRbac(manifests)
    fake = FakeKube()
    fake.authorize = rbac.authorizer(fake)
    fake.start(kubeconfig_dir=tmp_path)
    settings.PORTAL_KUBECONFIG = str(fake.kubeconfig_path)
    settings.PORTAL_KUBE_CONTEXT = ""
    settings.PORTAL_KUBE_TIMEOUT = 2.0
    yield fake, rbac
    fake.stop()


def settle(tenant, fake, rounds: int = 12) -> None:
    """Run the tenant's queued run to its end, the cluster's controllers keeping up."""
    for _ in range(rounds):
        if engine.reconcile(tenant.pk) is None:
            return
        fake.mark_ready()
        Run.objects.filter(tenant=tenant).update(not_before=None)  # time has passed
    raise AssertionError("the tenant never settled")


def triples(accesses) -> set[tuple[str, str, str]]:
    return {(a.group, a.resource, a.verb) for a in accesses}


@pytest.mark.django_db
def test_a_tenants_whole_life_runs_under_the_rendered_rbac_and_uses_all_of_it(
    enforced, django_capture_on_commit_callbacks
):
    fake, rbac = enforced
    tenant = TenantFactory(slug="shop", state=Tenant.State.APPROVED)
    with django_capture_on_commit_callbacks(execute=False):
        for reason in ("approved", "unchanged", "upgraded"):
            if reason == "upgraded":  # a new install Job; the old one is deleted
                Tenant.objects.filter(pk=tenant.pk).update(wordpress_version="6.7")
            run_request(tenant=tenant, action=Run.Action.APPLY, reason=reason)
            settle(tenant, fake)
            tenant.refresh_from_db()
            assert tenant.state == Tenant.State.READY, tenant.last_error
        # A drift scan lists each kind it compares cluster-wide, by the portal's label.
        scanlists.forget()
        run_request(tenant=tenant, action=Run.Action.CHECK, reason="drift")
        settle(tenant, fake)
        assert tenant.runs.first().drift == []
        assert pod_use(make_driver()).missing == ""  # a sampling run's list of pod metrics
        spec = spec_for(tenant)
        KubernetesSecrets(spec).put({"probe": "x"})  # as a password rotation writes
        assert restart_workload(spec)
        tenant_delete(tenant=tenant, actor=UserFactory(username="root", role="approver"))
        settle(tenant, fake)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.DELETED, tenant.last_error
    assert fake.get("Namespace", "wp-shop") is None
    assert len(fake.list("Job", "wp-shop")) == 0

    used = triples(fake.accesses) | triples(rbac.bind_checks)
    assert used - rbac.granted() == set(), "requested but not granted"
    assert rbac.granted() - used == set(), "granted but never requested"


def test_nothing_cluster_wide_reads_secrets_or_nodes(manifests):
    rbac = PortalRbac(manifests)
    cluster = {t for rule in rbac.cluster_rules for t in rule.triples()}
    assert {resource for _, resource, _ in cluster} == {
        "namespaces",
        "rolebindings",
        "clusterroles",
        METRICS[1],
        *LISTED_CLUSTER_WIDE,
    }
    assert not any(r in ("secrets", "nodes", "*") for _, r, _ in cluster)
    assert {t for t in cluster if t[0] == METRICS[0]} == {METRICS}  # read-only, list only
    # The drift scan's lists: only `list`, only the kinds it compares (scanlists.LISTED).
    listed = {(g, r) for g, r, v in cluster if r in LISTED_CLUSTER_WIDE}
    assert {(g, r, v) for g, r, v in cluster if r in LISTED_CLUSTER_WIDE} == {
        (g, r, "list") for g, r in listed
    }
    assert {r for _, r in listed} == {
        _PLURALS[kind] for _, kind in scanlists.LISTED if kind not in ("Namespace", "RoleBinding")
    }
    assert {(r, v) for _, r, v in cluster if r in ("namespaces", "rolebindings")} >= {
        ("namespaces", "list"),
        ("rolebindings", "list"),
    }
    assert not any(r in ("nodes", "*") for _, r, _ in rbac.granted())  # nothing reads nodes
    bind = [rule for rule in rbac.cluster_rules if "bind" in rule.verbs]
    assert [(rule.resources, rule.names) for rule in bind] == [
        (("clusterroles",), ("tenant-portal-tenant",))
    ]
    assert rbac.cluster_roles == ["tenant-portal"]  # the tenant role is bound per namespace only
    bindings = [m for m in manifests if m["kind"] in ("ClusterRoleBinding", "RoleBinding")]
    assert [m["roleRef"]["name"] for m in bindings] == ["tenant-portal"]


def test_outside_the_rbac_the_fake_answers_403(enforced):
    fake, _ = enforced
    api = make_driver()
    with pytest.raises(StepFailed, match="403"):
        api.read("v1", "Secret", "anything", "kube-system")
    with pytest.raises(StepFailed, match="403"):
        api.list("v1", "Secret", "default", {"a": "b"})  # lists of other kinds: the scan's
    with pytest.raises(StepFailed, match="403"):
        api.list_all("v1", "Secret", scanlists.SELECTOR)  # no Secret is listed cluster-wide
    assert api.list_all("apps/v1", "Deployment", scanlists.SELECTOR) == []
    escalate = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "mine", "namespace": "default"},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "ServiceAccount", "name": "tenant-portal", "namespace": "x"}],
    }
    with pytest.raises(StepFailed, match="403"):
        api.apply(escalate)  # no bind on cluster-admin: the escalation check refuses it
    assert fake.get("RoleBinding", "mine", "default") is None


def _own_database(url: str) -> str:
    """The DATABASE_URL for a pytest run beside this one: a database name of its own."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "_rbac"))


def test_the_driver_and_engine_tests_request_exactly_the_rendered_rbac(manifests, tmp_path):
    log = tmp_path / "access.jsonl"
    env = {
        **os.environ,
        "PORTAL_TEST_KUBE_ACCESS_LOG": str(log),
        "DATABASE_URL": _own_database(os.environ["DATABASE_URL"]),
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *DRIVER_TESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    accesses = [Access(**json.loads(line)) for line in log.read_text().splitlines()]
    used = triples(accesses)
    if (RBAC, "rolebindings", "create") in used:
        used.add(BIND)  # the escalation check RBAC makes on every binding the portal writes
    granted = PortalRbac(manifests).granted()
    assert used - granted == set(), "requested but not granted"
    assert granted - used == set(), "granted but never requested"


def test_every_request_the_portal_made_to_a_real_api_server_is_granted(manifests):
    # The recorded life of a tenant on a real kube-apiserver 1.32 (an older portal, with
    # cluster-admin rights): each of its requests, as RBAC would see it, is granted here once
    # the tenant's namespace holds the portal's RoleBinding.
    rbac = PortalRbac(manifests)
    recorded = ROOT / "tests" / "recordings" / "kubernetes-1.32" / "lifecycle-h1rec.jsonl"
    rows = [json.loads(line) for line in recorded.read_text().splitlines()]
    portal = [r for r in rows if r["user"] == "h1-portal-admin"]
    assert len(portal) > 50
    namespaces = {"wp-h1rec"}

    class Cluster:  # what PortalRbac reads of a fake: the RoleBindings there
        objects = {
            ("apis/rbac.authorization.k8s.io/v1", "rolebindings", ns, "tenant-portal"): {
                "roleRef": {"name": "tenant-portal-tenant"},
                "subjects": [
                    {
                        "kind": "ServiceAccount",
                        "name": "tenant-portal",
                        "namespace": "tenant-portal",
                    }
                ],  # fmt: skip
            }
            for ns in namespaces
        }

    refused, checked = [], set()
    for row in portal:
        parts = urlsplit(row["requestURI"]).path.strip("/").split("/")
        group = "" if parts[0] == "api" else parts[1]
        rest = parts[2:] if parts[0] == "api" else parts[3:]
        namespace = rest[1] if rest[0] == "namespaces" and len(rest) > 2 else ""
        resource, name = ((rest[2:] if namespace else rest) + ["", ""])[:2]
        verbs = {"GET": "get" if name else "list", "PATCH": "patch", "DELETE": "delete"}
        wanted = [verbs[row["method"]]]
        if row["method"] == "PATCH" and row["status"] == 201:
            wanted.append("create")  # a server-side apply that created the object
        scope = name if resource == "namespaces" else namespace
        for verb in wanted:
            access = Access(group, resource, verb, scope, name)
            checked.add((group, resource, verb))
            if not rbac.allows(Cluster, access):
                refused.append(access)
    assert refused == []
    assert {("", "secrets", "get"), ("batch", "jobs", "list"), ("", "namespaces", "delete")} <= (
        checked
    )
