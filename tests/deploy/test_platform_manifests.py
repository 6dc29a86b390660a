"""deploy/platform: the Flux layers render offline, every object fits its schema, the chart
versions are pinned and the cluster entry points name folders that exist."""

import re

import pytest
import yaml

from tests.deploy.render import REPO, crd_errors, docs, render, validate_every

PLATFORM = REPO / "deploy" / "platform"
LAYERS = ["namespaces", "sources", "controllers", "metrics", "configs", "apps"]
ENVIRONMENTS = ["staging", "production"]


@pytest.mark.parametrize("layer", LAYERS)
def test_every_layer_renders_and_every_object_fits_its_schema(layer):
    validate_every(render(PLATFORM / layer))


def every_platform_object() -> list[dict]:
    return [m for layer in LAYERS for m in render(PLATFORM / layer)]


def test_the_platform_holds_what_the_issue_asks_for():
    kinds = {(m["kind"], m["metadata"]["name"]) for m in every_platform_object()}
    for release in ["ingress-nginx", "cert-manager", "external-secrets", "authentik", "redis"]:
        assert ("HelmRelease", release) in kinds
    assert ("HelmRelease", "kube-prometheus-stack") in kinds
    # The Metrics API the portal's HPAs and the upsizing rule's samples of real use read.
    assert ("HelmRelease", "metrics-server") in kinds
    assert ("ClusterIssuer", "letsencrypt") in kinds
    assert ("ClusterSecretStore", "platform") in kinds
    # The portal's Redis is the chart's, not a hand-written StatefulSet beside it.
    assert ("StatefulSet", "redis") not in kinds
    assert {k for k, _ in kinds} >= {"ServiceMonitor", "PrometheusRule", "ExternalSecret"}


def test_every_chart_version_is_pinned_and_its_repository_is_declared():
    objects = every_platform_object()
    repositories = {m["metadata"]["name"] for m in objects if m["kind"] == "HelmRepository"}
    releases = [m for m in objects if m["kind"] == "HelmRelease"]
    assert releases
    for release in releases:
        chart = release["spec"]["chart"]["spec"]
        version = chart.get("version", "")
        assert version and not set(version) & set("*^~<>|x"), f"{chart['chart']} is not pinned"
        assert chart["sourceRef"]["name"] in repositories


def test_every_release_takes_its_values_from_a_configmap_of_the_same_folder():
    objects = every_platform_object()
    configmaps = {(m["metadata"].get("namespace"), m["metadata"]["name"]) for m in objects
                  if m["kind"] == "ConfigMap"}  # fmt: skip
    for release in (m for m in objects if m["kind"] == "HelmRelease"):
        namespace = release["metadata"]["namespace"]
        for source in release["spec"]["valuesFrom"]:
            assert (namespace, source["name"]) in configmaps, release["metadata"]["name"]


def test_every_platform_namespace_is_closed_by_default():
    objects = every_platform_object()
    namespaces = {m["metadata"]["name"] for m in objects if m["kind"] == "Namespace"}
    assert namespaces >= {"ingress-nginx", "cert-manager", "external-secrets", "monitoring",
                          "authentik", "portal-redis"}  # fmt: skip
    closed = {
        m["metadata"]["namespace"]
        for m in objects
        if m["kind"] == "NetworkPolicy"
        and m["spec"]["podSelector"] == {}
        and set(m["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not m["spec"].get("ingress")
        and not m["spec"].get("egress")
    }
    assert namespaces - closed == set(), "namespaces without a default-deny policy"
    for namespace in namespaces:
        labels = next(m for m in objects if m["kind"] == "Namespace"
                      and m["metadata"]["name"] == namespace)["metadata"]["labels"]  # fmt: skip
        assert "pod-security.kubernetes.io/enforce" in labels, namespace


def values_of(release: str) -> dict:
    configmap = next(m for m in every_platform_object() if m["kind"] == "ConfigMap"
                     and m["metadata"]["name"] == f"{release}-values")  # fmt: skip
    return yaml.safe_load(configmap["data"]["values.yaml"])


def test_ingress_nginx_keeps_the_client_address_from_the_ionos_loadbalancer():
    controller = values_of("ingress-nginx")["controller"]
    # IONOS puts the LoadBalancer IP on one node: Local keeps the source address, and only a
    # DaemonSet makes sure that node runs a controller.
    assert controller["service"]["externalTrafficPolicy"] == "Local"
    assert controller["kind"] == "DaemonSet"
    assert controller["service"]["loadBalancerIP"] == "${INGRESS_IP}"
    assert controller["config"]["use-forwarded-headers"] == "false"
    assert controller["config"]["limit-req-status-code"] == "429"


def test_every_platform_ingress_is_rate_limited_and_gets_a_certificate():
    ingresses = [
        values_of("kube-prometheus-stack")["grafana"]["ingress"],
        values_of("authentik")["server"]["ingress"],
    ]
    for ingress in ingresses:
        assert ingress["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
        assert int(ingress["annotations"]["nginx.ingress.kubernetes.io/limit-rps"]) > 0


def test_authentik_uses_the_dbaas_database_and_no_secret_is_in_its_values():
    values = values_of("authentik")
    assert values["postgresql"]["enabled"] is False
    assert values["global"]["envFrom"] == [{"secretRef": {"name": "authentik"}}]
    text = str(values).lower()
    assert "password" not in text and "secret_key" not in text


def test_the_portals_redis_keeps_the_queue_and_takes_the_portals_password():
    values = values_of("redis")
    # The host the portal's URLs name (Terraform writes them into the store's portal entry).
    secrets_tf = (REPO / "deploy" / "terraform" / "platform" / "secrets.tf").read_text()
    for name in ["CELERY_BROKER_URL", "PORTAL_CACHE_URL"]:
        (url,) = re.findall(rf'{name}\s+= "(redis://[^"]+)"', secrets_tf)
        assert "${random_password.redis.result}@redis.portal-redis.svc:6379/" in url, name
    assert values["fullnameOverride"] == "redis"
    redis_secret = secrets_tf[secrets_tf.index('resource "kubernetes_secret" "redis"') :]
    assert "password = random_password.redis.result" in redis_secret.split("\n}\n")[0]
    # A broker: one server, an append-only file on a volume, nothing of the queue evicted.
    assert values["haMode"]["enabled"] is False and values["useDeploymentWhenNonHA"] is False
    assert values["storage"]["requestedSize"]
    config = values["redisConfig"].splitlines()
    assert {"appendonly yes", "maxmemory-policy noeviction"} <= set(config)
    # The password from the store's redis entry, as a config file and as redis-cli's, and
    # nowhere in the values.
    assert "requirepass" not in str(values) and "password" not in str(values).lower()
    objects = render(PLATFORM / "apps" / "redis")
    external = {m["spec"]["target"]["name"]: m for m in objects if m["kind"] == "ExternalSecret"}
    assert set(external) == {values["extraSecretRedisConfigs"], *values["extraRedisEnvSecrets"]}
    for secret in external.values():
        assert secret["spec"]["data"] == [
            {"secretKey": "password", "remoteRef": {"key": "redis", "property": "password"}}
        ]
    templates = {
        name: secret["spec"]["target"]["template"]["data"] for name, secret in external.items()
    }
    assert templates[values["extraSecretRedisConfigs"]] == {
        "auth.conf": "requirepass {{ .password }}\n"
    }
    assert templates["redis-cli"] == {"REDISCLI_AUTH": "{{ .password }}"}
    # Pod Security "restricted" in portal-redis: what the chart's pods must carry.
    assert values["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert values["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert values["securityContext"]["allowPrivilegeEscalation"] is False
    assert values["podSecurityContext"]["runAsNonRoot"] is True


def test_the_redis_network_policy_selects_the_charts_pods():
    policy = next(m for m in every_platform_object() if m["kind"] == "NetworkPolicy"
                  and m["metadata"]["name"] == "redis-from-portal")  # fmt: skip
    # The chart's selector labels: app.kubernetes.io/name is the chart's name, "redis".
    release = next(m for m in every_platform_object() if m["kind"] == "HelmRelease"
                   and m["metadata"]["name"] == "redis")  # fmt: skip
    assert release["spec"]["chart"]["spec"]["chart"] == "redis"
    assert "nameOverride" not in values_of("redis")
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "redis"}}


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_cluster_entry_point_names_folders_that_exist_in_order(environment):
    path = PLATFORM / "clusters" / environment / "platform.yaml"
    kustomizations = docs(path.read_text())
    assert not crd_errors(kustomizations)
    names = [k["metadata"]["name"] for k in kustomizations]
    for kustomization in kustomizations:
        folder = REPO / kustomization["spec"]["path"]
        assert (folder / "kustomization.yaml").is_file(), f"{folder} is no Kustomize folder"
        for dependency in kustomization["spec"].get("dependsOn", []):
            assert names.index(dependency["name"]) < names.index(kustomization["metadata"]["name"])
        substitute = kustomization["spec"]["postBuild"]["substituteFrom"]
        assert substitute == [{"kind": "ConfigMap", "name": "platform-settings"}]
    portal = next(k for k in kustomizations if k["metadata"]["name"] == "portal")
    assert portal["spec"]["path"] == f"./deploy/portal/overlays/{environment}"


def platform_settings() -> set[str]:
    """The keys of the platform-settings ConfigMap: flux.tf's own and infrastructure's
    portal_config."""
    terraform = REPO / "deploy" / "terraform"
    flux_tf = (terraform / "platform" / "flux.tf").read_text()
    assert "merge(local.infra.portal_config," in flux_tf
    outputs = (terraform / "infrastructure" / "outputs.tf").read_text()
    portal_config = outputs[outputs.index('output "portal_config"') :]
    portal_config = portal_config[: portal_config.index("\n}\n")]
    assignment = re.compile(r"^\s+([A-Z][A-Z0-9_]+)\s+=", re.MULTILINE)
    return set(assignment.findall(flux_tf)) | set(assignment.findall(portal_config))


@pytest.mark.parametrize(
    "folder",
    [
        *(f"deploy/platform/{layer}" for layer in LAYERS),
        *(f"deploy/portal/overlays/{env}" for env in ENVIRONMENTS),
    ],  # fmt: skip
)
def test_every_variable_flux_substitutes_is_one_terraform_writes(folder):
    text = "\n".join(str(m) for m in render(REPO / folder))
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)\}", text))
    assert used - platform_settings() == set(), "substituted but never written"


def test_the_crd_check_rejects_a_misspelt_field_and_a_wrong_type():
    bad = {
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "x", "namespace": "y"},
        "spec": {"interval": "1h", "chart": {"spec": {"chart": "c", "versoin": "1",
                 "sourceRef": {"kind": "HelmRepository", "name": "r"}}}},
    }  # fmt: skip
    (error,) = crd_errors([bad])
    assert "versoin is not a field" in error
    bad["spec"]["interval"] = 60
    bad["spec"]["chart"]["spec"].pop("versoin")
    (error,) = crd_errors([bad])
    assert "interval must be string" in error


def test_an_unknown_custom_kind_is_an_error_not_a_pass():
    (error,) = crd_errors([{"apiVersion": "cert-manager.io/v1", "kind": "Issuerr",
                            "metadata": {"name": "x"}}])  # fmt: skip
    assert "no CRD schema" in error


# What the pinned External Secrets release serves, by kind. The CRD validators
# (@kubernetes-models/external-secrets) still hold v1beta1 and v1alpha1 schemas the operator
# stopped serving (v1beta1 since v0.17), so an object of those would pass them and then be
# refused by the cluster.
EXTERNAL_SECRETS_SERVED = {
    "ExternalSecret": "external-secrets.io/v1",
    "ClusterExternalSecret": "external-secrets.io/v1",
    "SecretStore": "external-secrets.io/v1",
    "ClusterSecretStore": "external-secrets.io/v1",
    "PushSecret": "external-secrets.io/v1alpha1",
    "ClusterPushSecret": "external-secrets.io/v1alpha1",
}


def external_secrets_objects() -> list[tuple[str, dict]]:
    found = []
    for path in sorted((REPO / "deploy").rglob("*.yaml")):
        for manifest in docs(path.read_text()):
            if isinstance(manifest, dict) and str(manifest.get("apiVersion", "")).startswith(
                "external-secrets.io/"
            ):
                found.append((str(path.relative_to(REPO)), manifest))
    return found


def test_external_secrets_objects_use_the_api_the_pinned_operator_serves():
    release = next(m for m in every_platform_object() if m["kind"] == "HelmRelease"
                   and m["metadata"]["name"] == "external-secrets")  # fmt: skip
    assert release["spec"]["chart"]["spec"]["version"].split(".")[0] == "2"
    objects = external_secrets_objects()
    assert {m["kind"] for _, m in objects} >= {"ExternalSecret", "ClusterSecretStore"}
    for path, manifest in objects:
        served = EXTERNAL_SECRETS_SERVED.get(manifest["kind"])
        assert manifest["apiVersion"] == served, f"{path}: {manifest['kind']} is not served"
    assert not crd_errors([m for _, m in objects])


def test_the_operators_replicas_elect_a_leader():
    values = values_of("external-secrets")
    assert values["replicaCount"] > 1 and values["leaderElect"] is True


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_metrics_layer_blocks_nothing_when_the_cluster_serves_the_api_already(environment):
    # A cluster with its own metrics-server makes this release fail (Helm won't take over
    # the APIService); no other layer may wait for it.
    path = PLATFORM / "clusters" / environment / "platform.yaml"
    kustomizations = docs(path.read_text())
    metrics = next(k for k in kustomizations if k["metadata"]["name"] == "platform-metrics")
    assert metrics["spec"]["path"] == "./deploy/platform/metrics"
    for kustomization in kustomizations:
        waits_for = {d["name"] for d in kustomization["spec"].get("dependsOn", [])}
        assert "platform-metrics" not in waits_for, kustomization["metadata"]["name"]
    values = values_of("metrics-server")
    # The kubelets' certificates stay verified (the chart's default args, none weakened).
    args = values.get("args", []) + values.get("defaultArgs", [])
    assert not any("insecure" in arg for arg in args)
    assert values["replicas"] >= 2 and values["podDisruptionBudget"]["enabled"]
