"""The portal's own Kubernetes manifests: valid, complete, and allowed to do what steps do."""

from pathlib import Path

import pytest
import yaml

from provisioning.manifests import all_manifests
from provisioning.schema import validate
from provisioning.spec import spec_for
from tests.deploy.render import render, validate_every
from tests.factories import TenantFactory

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "portal"
BASE = DEPLOY / "base"


def _docs(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _base_manifests() -> list[dict]:
    return [doc for path in sorted(BASE.glob("*.yaml")) for doc in _docs(path.read_text())
            if path.name != "kustomization.yaml"]  # fmt: skip


def test_the_kustomization_lists_every_file_of_the_base():
    listed = set(yaml.safe_load((BASE / "kustomization.yaml").read_text())["resources"])
    present = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present


def test_every_base_manifest_fits_the_schema_strictly():
    manifests = _base_manifests()
    assert {m["kind"] for m in manifests} >= {"Deployment", "ClusterRole", "Ingress", "Service"}
    for manifest in manifests:
        validate(manifest)


def test_the_overlay_builds_and_every_manifest_fits_the_schema():
    manifests = render(DEPLOY / "overlays" / "ionos")
    validate_every(manifests)
    ingress = next(m for m in manifests if m["kind"] == "Ingress")
    assert ingress["spec"]["rules"][0]["host"] == "portal.wp.example.com"
    images = {
        c["image"]
        for m in manifests
        if m["kind"] == "Deployment" and m["metadata"]["name"] != "maintenance"
        for c in m["spec"]["template"]["spec"]["containers"]
    }
    assert images == {"registry.example.com/platform/tenant-portal:0.1.0"}


# Kinds the provisioning steps write, as (API group, plural) the ClusterRole must grant.
PLURALS = {
    "Namespace": ("", "namespaces"),
    "ResourceQuota": ("", "resourcequotas"),
    "LimitRange": ("", "limitranges"),
    "Secret": ("", "secrets"),
    "ServiceAccount": ("", "serviceaccounts"),
    "Service": ("", "services"),
    "PersistentVolumeClaim": ("", "persistentvolumeclaims"),
    "Deployment": ("apps", "deployments"),
    "Job": ("batch", "jobs"),
    "Ingress": ("networking.k8s.io", "ingresses"),
    "NetworkPolicy": ("networking.k8s.io", "networkpolicies"),
    "RoleBinding": ("rbac.authorization.k8s.io", "rolebindings"),
}


@pytest.mark.django_db
def test_the_portal_may_read_and_apply_everything_a_tenant_is_made_of_and_delete_it():
    # Cluster-wide or in the tenant's namespace (tests/deploy/test_portal_rbac.py says which):
    # a server-side apply reads, patches and, the first time, creates; the rest of a tenant
    # goes with its namespace.
    granted = {
        (group, resource, verb)
        for role in _base_manifests()
        if role["kind"] == "ClusterRole"
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    kinds = {m["kind"] for m in all_manifests(spec_for(TenantFactory(slug="shop")))}
    assert kinds <= set(PLURALS), f"add these kinds to PLURALS: {kinds - set(PLURALS)}"
    for kind in kinds:
        group, plural = PLURALS[kind]
        for verb in ("get", "create", "patch"):
            assert (group, plural, verb) in granted, f"the ClusterRoles lack {verb} {plural}"
    assert ("", "namespaces", "delete") in granted
