"""Every manifest the portal can produce fits the pinned Kubernetes schema, strictly."""

import json

import pytest
import yaml

from provisioning.manifests import all_manifests
from provisioning.schema import KUBERNETES_VERSION, ManifestInvalid, validate, validate_all
from provisioning.secrets import PLACEHOLDER, PlanSecrets
from provisioning.spec import spec_for
from provisioning.steps.base import StepContext
from provisioning.steps.namespace import NamespaceStep
from provisioning.steps.network import NetworkStep
from provisioning.steps.wordpress import WordPressStep
from tests.factories import TenantFactory, plan

pytestmark = pytest.mark.django_db


def by_kind(manifests, kind, name=None):
    found = [
        m
        for m in manifests
        if m["kind"] == kind and (name is None or m["metadata"]["name"] == name)
    ]
    assert found, f"no {kind} {name or ''}"
    return found[0]


@pytest.mark.parametrize("plan_name", ["small", "medium", "large"])
@pytest.mark.parametrize("issuer", ["", "letsencrypt-prod"])
@pytest.mark.parametrize("host", [None, "blog.example.org"])
def test_every_manifest_fits_the_schema_for_each_plan_and_option(settings, plan_name, issuer, host):
    settings.PORTAL_CERT_ISSUER = issuer
    settings.PORTAL_STORAGE_CLASS = "ionos-enterprise-ssd" if issuer else ""
    extra = {"host": host} if host else {}
    spec = spec_for(TenantFactory(slug="shop", plan=plan(plan_name), **extra))
    manifests = all_manifests(spec)
    assert KUBERNETES_VERSION >= "1.30"
    validate_all(manifests)  # raises on any unknown or ill-typed field
    ingress = by_kind(manifests, "Ingress")
    assert ingress["spec"]["rules"][0]["host"] == spec.host
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/limit-rps"] == "10"
    if issuer:
        assert annotations["cert-manager.io/cluster-issuer"] == issuer
        assert ingress["spec"]["tls"] == [{"hosts": [spec.host], "secretName": "wordpress-tls"}]
    else:
        assert "tls" not in ingress["spec"]
        assert "cert-manager.io/cluster-issuer" not in annotations
    # Every object carries the tenant's labels.
    for manifest in manifests:
        assert manifest["metadata"]["labels"]["portal.wp.ionos/tenant"] == "shop"
        assert manifest["metadata"]["labels"]["portal.wp.ionos/plan"] == plan_name


def test_an_unknown_field_is_an_error():
    bad = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "x"}, "automount": 1}
    with pytest.raises(ManifestInvalid, match="ServiceAccount x.*automount"):
        validate(bad)


def test_a_nested_field_of_the_wrong_kind_or_unknown_is_named_with_its_path():
    spec = spec_for(TenantFactory(slug="shop", plan=plan("small")))
    deployment = by_kind(all_manifests(spec), "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["pullPolicy"] = "Always"
    with pytest.raises(ManifestInvalid) as unknown:
        validate(deployment)
    assert str(unknown.value) == (
        f"Deployment {deployment['metadata']['name']} doesn't fit the Kubernetes "
        f"{KUBERNETES_VERSION} schema at spec.template.spec.containers.0: Additional properties "
        "are not allowed ('pullPolicy' was unexpected)"
    )
    del container["pullPolicy"]
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(ManifestInvalid, match=r"schema at spec\.replicas: .*two.* not of type"):
        validate(deployment)
    deployment["spec"]["replicas"] = 2
    validate(deployment)  # as built, it fits


def test_the_plan_sets_quota_limits_replicas_and_volume():
    spec = spec_for(TenantFactory(slug="shop", plan=plan("medium")))
    manifests = all_manifests(spec)
    hard = by_kind(manifests, "ResourceQuota")["spec"]["hard"]
    # medium: 500m/1000m CPU, 512/1024 MiB per pod, 2 replicas (+ surge + install pod), 10 pods
    assert hard["requests.cpu"] == "2000m" and hard["limits.memory"] == "4096Mi"
    assert hard["pods"] == "10" and hard["requests.storage"] == "20Gi"
    assert hard["services.loadbalancers"] == "0"
    limits = by_kind(manifests, "LimitRange")["spec"]["limits"][0]
    assert limits["max"] == {"cpu": "1000m", "memory": "1024Mi"}
    deployment = by_kind(manifests, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi"}
    assert container["image"] == "tenant-wordpress:6.8"
    claim = by_kind(manifests, "PersistentVolumeClaim")
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"


def test_isolation_and_security_settings():
    spec = spec_for(TenantFactory(slug="shop"))
    manifests = all_manifests(spec)
    labels = by_kind(manifests, "Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "baseline"
    assert by_kind(manifests, "ServiceAccount")["automountServiceAccountToken"] is False
    pod = by_kind(manifests, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsUser"] == 33 and pod["securityContext"]["runAsNonRoot"]
    assert pod["automountServiceAccountToken"] is False
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["WORDPRESS_DB_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == (
        "wordpress-credentials"
    )
    assert env["WORDPRESS_DB_NAME"]["value"] == "wp_shop"
    assert env["OIDC_ISSUER"]["value"].endswith("/application/o/wp-shop/")
    assert env["S3_PREFIX"]["value"] == "tenants/shop/"
    policies = {m["metadata"]["name"]: m["spec"] for m in manifests if m["kind"] == "NetworkPolicy"}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    source = policies["allow-from-ingress-controller"]["ingress"][0]["from"][0]
    assert source["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "ingress-nginx"
    }
    dns = policies["allow-egress-dns"]["egress"][0]["ports"]
    assert {"protocol": "UDP", "port": 53} in dns
    ports = [r["ports"][0]["port"] for r in policies["allow-egress-platform-services"]["egress"]]
    assert ports == [3306, 443, 443]


def test_a_changed_title_makes_a_new_install_job_but_the_same_one_otherwise():
    tenant = TenantFactory(slug="shop", display_name="Shop")
    first = by_kind(all_manifests(spec_for(tenant)), "Job")["metadata"]["name"]
    assert by_kind(all_manifests(spec_for(tenant)), "Job")["metadata"]["name"] == first
    tenant.display_name = "The Shop"
    renamed = by_kind(all_manifests(spec_for(tenant)), "Job")
    assert renamed["metadata"]["name"] != first
    env = {e["name"]: e for e in renamed["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["WP_TITLE"]["value"] == "The Shop"
    script = renamed["spec"]["template"]["spec"]["containers"][0]["command"][2]
    assert "wp core is-installed --skip-plugins || wp core install" in script


def test_plan_mode_writes_valid_yaml_with_placeholders_only(settings):
    spec = spec_for(TenantFactory(slug="shop"))
    for cls in (NamespaceStep, WordPressStep, NetworkStep):
        step = cls(StepContext(spec=spec, secrets=PlanSecrets()))
        assert step.planning
        assert step.apply().status == "planned"
        path = settings.PORTAL_PLAN_DIR / "shop" / f"{cls.name}.yaml"
        documents = list(yaml.safe_load_all(path.read_text()))
        validate_all(documents)
        assert step.check() == []
    secret = next(
        d
        for d in yaml.safe_load_all(
            (settings.PORTAL_PLAN_DIR / "shop" / "namespace.yaml").read_text()
        )
        if d["kind"] == "Secret"
    )
    assert set(secret["stringData"].values()) == {PLACEHOLDER}
    assert "WORDPRESS_DB_PASSWORD" in json.dumps(secret)
