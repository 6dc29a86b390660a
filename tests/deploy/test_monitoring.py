"""deploy/monitoring: the ServiceMonitor reaches the web pods with the portal's token, and every
series the alerts and the dashboard use is one the portal exports (or kube-state-metrics')."""

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.deploy.render import docs, render, validate_every

REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "deploy" / "monitoring"
TOKEN = "scrape-token-for-monitoring-tests"
# Series from outside the portal the rules may use.
OUTSIDE = {"kube_deployment_status_replicas_available", "up"}
_SUFFIXES = ("_bucket", "_count", "_sum", "_total")


@pytest.fixture(scope="module")
def manifests():
    return render(MONITORING)


def _one(manifests, kind):
    (found,) = [m for m in manifests if m["kind"] == kind]
    return found


def _exprs(manifests) -> list[str]:
    rules = _one(manifests, "PrometheusRule")
    exprs = [r["expr"] for g in rules["spec"]["groups"] for r in g["rules"]]
    dashboard = json.loads(_one(manifests, "ConfigMap")["data"]["tenant-portal.json"])
    exprs += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    return exprs


def _series(expr: str) -> set[str]:
    # Names of series: words followed by a selector, a range or an operator, not functions.
    words = set(re.findall(r"\b([a-z_][a-z0-9_]*)\b\s*(?=[{\[)\s]|$)", expr))
    return {w for w in words if w.startswith(("portal_", "kube_")) or w == "up"}


def _family(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_flux_applies_it_after_the_portal(environment):
    entry = REPO / "deploy" / "platform" / "clusters" / environment / "platform.yaml"
    layers = {k["metadata"]["name"]: k for k in docs(entry.read_text())}
    monitoring = layers["portal-monitoring"]["spec"]
    assert monitoring["path"] == "./deploy/monitoring"
    assert monitoring["dependsOn"] == [{"name": "portal"}]


def test_it_builds_and_fits_the_schemas(manifests):
    validate_every(manifests)
    assert {m["kind"] for m in manifests} == {
        "ServiceMonitor", "PrometheusRule", "ConfigMap", "NetworkPolicy"
    }  # fmt: skip


def test_the_service_monitor_finds_the_web_service_and_sends_the_token(manifests):
    monitor = _one(manifests, "ServiceMonitor")
    portal = render(REPO / "deploy" / "portal" / "overlays" / "ionos")
    (service,) = [
        m for m in portal
        if m["kind"] == "Service"
        and monitor["spec"]["selector"]["matchLabels"].items() <= m["metadata"]["labels"].items()
    ]  # fmt: skip
    assert monitor["metadata"]["namespace"] == service["metadata"]["namespace"]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"
    secret = endpoint["authorization"]["credentials"]
    # The Secret the web pods take their environment from, under the name settings read.
    web = next(m for m in portal if m["kind"] == "Deployment" and m["metadata"]["name"] == "web")
    sources = web["spec"]["template"]["spec"]["containers"][0]["envFrom"]
    assert {"secretRef": {"name": secret["name"]}} in sources
    assert secret["key"] == "PORTAL_METRICS_TOKEN"
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"


def test_prometheus_may_reach_the_web_port(manifests):
    policy = _one(manifests, "NetworkPolicy")
    (rule,) = policy["spec"]["ingress"]
    assert rule["from"][0]["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "monitoring"
    }
    assert rule["ports"] == [{"port": 8000, "protocol": "TCP"}]


def test_the_rules_cover_what_operators_must_hear(manifests):
    rules = _one(manifests, "PrometheusRule")
    alerts = {r["alert"]: r for g in rules["spec"]["groups"] for r in g["rules"]}
    assert {
        "PortalProvisioningFailures", "PortalRunsStalled", "PortalWorkerDown",
        "PortalApprovalsWaiting", "PortalDriftFound", "PortalWebhookEndpointDisabled",
    } <= set(alerts)  # fmt: skip
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, name
        assert rule["annotations"]["summary"], name
        assert rule["expr"].count("(") == rule["expr"].count(")"), name


def test_the_dashboard_is_grafana_json_with_a_query_in_each_panel(manifests):
    configmap = _one(manifests, "ConfigMap")
    assert configmap["metadata"]["labels"] == {"grafana_dashboard": "1"}
    # Flux must leave Grafana's ${datasource} alone (like the rules' {{ $labels }}).
    flux_off = {"kustomize.toolkit.fluxcd.io/substitute": "disabled"}
    assert configmap["metadata"]["annotations"] == flux_off
    assert _one(manifests, "PrometheusRule")["metadata"]["annotations"] == flux_off
    assert configmap["metadata"]["namespace"] == "monitoring"
    dashboard = json.loads(configmap["data"]["tenant-portal.json"])
    assert dashboard["uid"] == "tenant-portal" and dashboard["panels"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]
        assert set(panel["gridPos"]) == {"x", "y", "w", "h"}


def test_no_worker_heartbeat_is_what_pages_someone(manifests):
    # A hung worker pod is still an available replica: the alert reads the portal's heartbeat.
    rules = _one(manifests, "PrometheusRule")
    alerts = {r["alert"]: r for g in rules["spec"]["groups"] for r in g["rules"]}
    down = alerts["PortalWorkerDown"]
    assert _series(down["expr"]) == {
        "portal_worker_heartbeat_age_seconds", "portal_worker_heartbeat_stale_after_seconds"
    }  # fmt: skip
    assert down["labels"]["severity"] == "critical"


@pytest.mark.django_db
def test_every_series_used_is_exported(manifests, client, settings):
    settings.PORTAL_METRICS_TOKEN = TOKEN
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    exported = {family.name for family in text_string_to_metric_families(text)}
    used = set().union(*(_series(e) for e in _exprs(manifests)))
    assert {"portal_step_failures_total", "portal_run_queue_oldest_wait_seconds"} <= used
    unknown = {name for name in used - OUTSIDE if _family(name) not in exported}
    assert not unknown, f"no such series on /metrics: {sorted(unknown)}"


def test_the_backup_alert_follows_each_tenants_own_rpo(manifests):
    # Not one age for all: the portal judges each tenant by its plan's RPO, as its page does.
    rules = _one(manifests, "PrometheusRule")
    alerts = {r["alert"]: r for g in rules["spec"]["groups"] for r in g["rules"]}
    rule = alerts["PortalBackupOlderThanRPO"]
    assert _series(rule["expr"]) == {"portal_backup_overdue"}
    assert "by (tenant)" in rule["expr"] and "$labels.tenant" in rule["annotations"]["summary"]
