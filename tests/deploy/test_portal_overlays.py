"""The portal's GitOps overlays (staging, production): secrets through ExternalSecrets, the
infrastructure's settings substituted by Flux, HPAs, requests and limits, one migrator."""

import re

import pytest

from tests.deploy.render import REPO, render, validate_every

OVERLAYS = REPO / "deploy" / "portal" / "overlays"
ENVIRONMENTS = ["staging", "production"]
OUTPUTS = REPO / "deploy" / "terraform" / "infrastructure" / "outputs.tf"


def settings_in(output: str) -> set[str]:
    text = OUTPUTS.read_text()
    block = text[text.index(f'output "{output}"') :]
    block = block[: block.index("\n}\n")]
    return set(re.findall(r"^\s+([A-Z][A-Z0-9_]+)\s+=", block, re.MULTILINE))


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def built(request):
    return request.param, render(OVERLAYS / request.param)


def of_kind(manifests, kind):
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def pods(manifests):
    for deployment in of_kind(manifests, "Deployment").values():
        spec = deployment["spec"]["template"]["spec"]
        yield deployment, spec.get("initContainers", []) + spec["containers"]


def test_every_object_fits_its_schema(built):
    _, manifests = built
    validate_every(manifests)


def test_every_secret_a_pod_reads_comes_from_an_external_secret_or_is_optional(built):
    _, manifests = built
    assert "Secret" not in {m["kind"] for m in manifests}, "a Secret written in the overlay"
    synced = {m["spec"]["target"]["name"] for m in of_kind(manifests, "ExternalSecret").values()}
    assert "portal-secrets" in synced
    for _, containers in pods(manifests):
        for container in containers:
            for source in container.get("envFrom", []):
                ref = source.get("secretRef")
                if ref:
                    assert ref["name"] in synced, f"{container['name']} reads {ref['name']}"
    stores = {
        m["spec"]["secretStoreRef"]["name"] for m in of_kind(manifests, "ExternalSecret").values()
    }
    assert stores == {"platform"}


def test_the_settings_from_the_infrastructure_are_substituted_by_flux(built):
    _, manifests = built
    config = of_kind(manifests, "ConfigMap")["portal-config"]["data"]
    for name in settings_in("portal_config"):
        assert config.get(name) == f"${{{name}}}", name
    assert settings_in("portal_secrets") & set(config) == set(), "a secret setting in the ConfigMap"
    assert config["PORTAL_CERT_ISSUER"] == "letsencrypt"
    (ingress,) = of_kind(manifests, "Ingress").values()
    assert ingress["spec"]["rules"][0]["host"] == "portal.${DNS_ZONE}"
    assert ingress["spec"]["tls"][0]["hosts"] == ["portal.${DNS_ZONE}"]


def test_web_and_worker_scale_by_hpa_and_beat_stays_one(built):
    _, manifests = built
    hpas = of_kind(manifests, "HorizontalPodAutoscaler")
    deployments = of_kind(manifests, "Deployment")
    assert {h["spec"]["scaleTargetRef"]["name"] for h in hpas.values()} == {"web", "worker"}
    for hpa in hpas.values():
        assert hpa["spec"]["minReplicas"] >= 2
        assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
        assert "replicas" not in deployments[hpa["spec"]["scaleTargetRef"]["name"]]["spec"]
    assert deployments["beat"]["spec"]["replicas"] == 1
    assert deployments["beat"]["spec"]["strategy"]["type"] == "Recreate"


def test_exactly_one_pod_migrates_the_database(built):
    # beat's init container: beat is the one singleton (Recreate, one replica), so each rollout
    # migrates once, before the new beat starts, and no Job template must be replaced by hand.
    _, manifests = built
    migrators = [
        (deployment["metadata"]["name"], container["name"])
        for deployment, containers in pods(manifests)
        for container in containers
        if "migrate" in container.get("command", [])
    ]
    assert migrators == [("beat", "migrate")]


def test_every_container_has_requests_and_limits(built):
    _, manifests = built
    for _, containers in pods(manifests):
        for container in containers:
            resources = container.get("resources", {})
            if container["name"] == "migrate":
                continue  # runs to completion before beat starts; bounded by the namespace
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), container["name"]
            assert "memory" in resources.get("limits", {}), container["name"]


def test_staging_and_production_differ_where_they_should():
    staging, production = (render(OVERLAYS / env) for env in ENVIRONMENTS)
    issuer = "cert-manager.io/cluster-issuer"
    assert of_kind(staging, "Ingress")["web"]["metadata"]["annotations"][issuer] == (
        "letsencrypt-staging"
    )
    assert of_kind(production, "Ingress")["web"]["metadata"]["annotations"][issuer] == (
        "letsencrypt"
    )
    web = "HorizontalPodAutoscaler"
    assert of_kind(production, web)["web"]["spec"]["minReplicas"] == 3
    assert of_kind(production, "PodDisruptionBudget")["web"]["spec"]["minAvailable"] == 2


def test_the_worker_pool_is_fixed_and_scales_on_cpu_only(built):
    # Its memory was measured for a pool of 4 (deploy/portal/base/worker.yaml); Celery's default
    # (one process per node core) would outgrow the limit on a larger node.
    _, manifests = built
    [worker] = [c for d, cs in pods(manifests) if d["metadata"]["name"] == "worker" for c in cs]
    command = worker["command"]
    assert command[command.index("--concurrency") + 1] == "4"
    for hpa in of_kind(manifests, "HorizontalPodAutoscaler").values():
        names = [m["resource"]["name"] for m in hpa["spec"]["metrics"]]
        assert names == ["cpu"], hpa["metadata"]["name"]
