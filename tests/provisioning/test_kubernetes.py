"""The Kubernetes steps against the fake API over HTTP, through the official client."""

import base64
from datetime import datetime, timedelta

import pytest

from provisioning import scanlists
from provisioning import secrets as keys
from provisioning.drivers.kubernetes import KubernetesSecrets, make_driver, restart_workload
from provisioning.errors import StepFailed, TransientError
from provisioning.manifests.wordpress import UPDATE_DB_PREFIX
from provisioning.podmetrics import NOT_SERVED, PodUse, pod_use
from provisioning.spec import spec_for
from provisioning.steps.base import Outcome, StepContext
from provisioning.steps.namespace import NamespaceStep
from provisioning.steps.network import NetworkStep
from provisioning.steps.wordpress import WordPressStep
from tests.factories import TenantFactory, plan

pytestmark = pytest.mark.django_db
STEPS = (NamespaceStep, WordPressStep, NetworkStep)
NS = "wp-shop"


class Run:
    """Runs the three steps as the engine does: check, then apply only on differences."""

    def __init__(self, spec, fake):
        self.spec, self.fake = spec, fake
        self.store = KubernetesSecrets(spec)
        self.log: list[str] = []

    def step(self, cls):
        ctx = StepContext(spec=self.spec, secrets=self.store, log=self.log.append)
        return cls(ctx)

    def provision(self) -> None:
        for cls in STEPS:
            step = self.step(cls)
            # As the engine: a step that waits is applied again (not checked) until it settles.
            if step.check():
                for _ in range(4):
                    if step.apply().status != Outcome.WAITING:
                        break
                    self.fake.mark_ready(NS)  # the controllers finish the rollout and the Jobs
            assert step.check() == []


@pytest.fixture
def tenant():
    return TenantFactory(slug="shop", display_name="My shop", admin_email="o@example.com")


@pytest.fixture
def run(kube_cluster, tenant):
    return Run(spec_for(tenant), kube_cluster)


def secret_data(fake) -> dict[str, str]:
    secret = fake.get("Secret", keys.SECRET_NAME, NS)
    return {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}


def test_provision_creates_every_object_with_labels_and_content(run, kube_cluster):
    fake = kube_cluster
    namespace_step = run.step(NamespaceStep)
    assert "Namespace wp-shop is missing" in namespace_step.check()
    assert namespace_step.apply().status == Outcome.DONE
    run.store.put({keys.DB_PASSWORD: "db-password-from-the-database-step"})

    wordpress = run.step(WordPressStep)
    outcome = wordpress.apply()
    assert outcome.status == Outcome.WAITING
    assert "Deployment" in outcome.message and "install Job" in outcome.message
    assert "install Job" in wordpress.apply().message  # still waiting, nothing new to write
    assert _update_db_jobs(fake) == []  # not before the rollout and the install
    fake.mark_ready(NS)
    assert wordpress.check() == []
    updating = wordpress.apply()
    assert updating.status == Outcome.WAITING and "wp core update-db is running" in updating.message
    [update_db] = _update_db_jobs(fake)
    container = update_db["spec"]["template"]["spec"]["containers"][0]
    assert "wp core update-db" in container["command"][-1]
    assert container["image"] == fake.get("Deployment", "wordpress", NS)["spec"]["template"][
        "spec"]["containers"][0]["image"]  # fmt: skip
    fake.mark_ready(NS)
    assert wordpress.apply().status == Outcome.DONE
    assert any("wp core update-db done" in line for line in run.log), run.log
    assert run.step(NetworkStep).apply().status == Outcome.DONE

    namespace = fake.get("Namespace", NS)
    assert namespace["metadata"]["labels"]["portal.wp.ionos/tenant"] == "shop"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"
    assert fake.get("ResourceQuota", "tenant-quota", NS)["spec"]["hard"]["pods"] == "6"
    assert fake.get("ServiceAccount", "wordpress", NS)["automountServiceAccountToken"] is False
    data = secret_data(fake)
    assert data[keys.DB_PASSWORD] == "db-password-from-the-database-step"
    assert set(keys.WP_SALT_KEYS) <= set(data) and len(data[keys.WP_ADMIN_PASSWORD]) == 40
    deployment = fake.get("Deployment", "wordpress", NS)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "tenant-wordpress:6.8"
    assert container["resources"]["limits"] == {"cpu": "500m", "memory": "512Mi"}
    assert fake.get("Service", "wordpress", NS)["spec"]["clusterIP"].startswith("10.96.")
    assert fake.get("Ingress", "wordpress", NS)["spec"]["rules"][0]["host"] == (
        "wordpress-shop.local"
    )
    assert fake.get("PersistentVolumeClaim", "wordpress-content", NS)["spec"]["resources"] == {
        "requests": {"storage": "5Gi"}
    }
    [job] = [j for j in fake.list("Job", NS) if j not in _update_db_jobs(fake)]
    env = {
        e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["WP_TITLE"] == "My shop" and env["WP_ADMIN_EMAIL"] == "o@example.com"
    assert len(fake.list("NetworkPolicy", NS)) == 5
    for kind in ("ResourceQuota", "Deployment", "Service", "Ingress", "NetworkPolicy", "Secret"):
        for obj in fake.list(kind, NS):
            assert obj["metadata"]["labels"]["portal.wp.ionos/tenant"] == "shop", kind
    # No generated credential reached a step log or any object but the Secret.
    everything = str([o for o in fake.objects.values() if o["kind"] != "Secret"]) + str(run.log)
    for value in data.values():
        assert value not in everything


def test_reconciling_an_unchanged_tenant_writes_nothing(run, kube_cluster, settings):
    # An empty env value is dropped by the API server ({"name": "S3_ENDPOINT_URL"} is stored):
    # the drift check asks the server (dry-run apply) instead of comparing with the manifest.
    settings.PORTAL_S3_ENDPOINT_URL = ""
    run.provision()
    env = kube_cluster.get("Deployment", "wordpress", NS)["spec"]["template"]["spec"]
    assert {"name": "S3_ENDPOINT_URL"} in env["containers"][0]["env"]
    before, dry_runs = len(kube_cluster.writes), kube_cluster.dry_runs
    for cls in STEPS:
        step = run.step(cls)
        assert step.check() == []
        assert step.apply().status == Outcome.DONE  # even an apply finds nothing to write
    assert kube_cluster.writes[before:] == []
    assert kube_cluster.dry_runs > dry_runs  # every object was asked about


def test_a_plan_change_moves_quota_and_resources_and_keeps_the_credentials(
    run, kube_cluster, tenant
):
    fake = kube_cluster
    run.provision()
    credentials = secret_data(fake)
    tenant.plan = plan("medium")
    run.spec = spec_for(tenant)
    differences = run.step(NamespaceStep).check()
    assert any("ResourceQuota tenant-quota: spec.hard.pods is" in d for d in differences)
    run.provision()
    assert fake.get("ResourceQuota", "tenant-quota", NS)["spec"]["hard"]["pods"] == "10"
    assert fake.get("Namespace", NS)["metadata"]["labels"]["portal.wp.ionos/plan"] == "medium"
    deployment = fake.get("Deployment", "wordpress", NS)
    assert deployment["spec"]["replicas"] == 2
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi"}
    claim = fake.get("PersistentVolumeClaim", "wordpress-content", NS)
    assert claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert len(fake.list("Job", NS)) - len(_update_db_jobs(fake)) == 1  # the old install Job went
    assert len(_update_db_jobs(fake)) == 1  # the same image: its schema was updated once
    # The Secret was applied again (new plan label): its keys, owned by another manager, stay.
    assert secret_data(fake) == credentials


def test_a_field_the_portal_no_longer_sets_is_removed(run, kube_cluster, settings):
    settings.PORTAL_CERT_ISSUER = "letsencrypt"
    run.provision()
    assert "tls" in kube_cluster.get("Ingress", "wordpress", NS)["spec"]
    settings.PORTAL_CERT_ISSUER = ""
    assert any("Ingress wordpress" in d for d in run.step(WordPressStep).check())
    run.provision()
    ingress = kube_cluster.get("Ingress", "wordpress", NS)
    assert "tls" not in ingress["spec"]
    assert "cert-manager.io/cluster-issuer" not in ingress["metadata"]["annotations"]


def test_delete_waits_while_the_namespace_terminates(run, kube_cluster):
    run.provision()
    kube_cluster.terminating_gets = 2
    for cls in (NetworkStep, WordPressStep):
        assert run.step(cls).destroy().status == Outcome.DONE
    step = run.step(NamespaceStep)
    outcomes = [step.destroy() for _ in range(4)]
    assert [o.status for o in outcomes] == [Outcome.WAITING] * 3 + [Outcome.DONE]
    assert "terminating" in outcomes[0].message
    assert kube_cluster.get("Namespace", NS) is None
    assert kube_cluster.list("Deployment", NS) == []
    assert step.destroy().status == Outcome.DONE  # already gone


@pytest.mark.usefixtures("no_request_retries")  # the engine's retry, not the driver's
@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_are_transient_and_a_later_call_succeeds(run, kube_cluster, status):
    run.step(NamespaceStep).apply()
    kube_cluster.fail("PATCH", r"/deployments/wordpress$", status, message="etcd is busy")
    with pytest.raises(TransientError, match=f"{status}.*Deployment wp-shop/wordpress"):
        run.step(WordPressStep).apply()
    assert kube_cluster.get("Deployment", "wordpress", NS) is None  # the fault came first
    assert run.step(WordPressStep).apply().status == Outcome.WAITING


@pytest.mark.usefixtures("no_request_retries")  # the engine's retry, not the driver's
def test_a_timeout_is_transient_and_a_later_call_succeeds(run, kube_cluster, settings):
    settings.PORTAL_KUBE_TIMEOUT = 0.5
    kube_cluster.delay("GET", r"/namespaces/wp-shop$", seconds=2)
    with pytest.raises(TransientError, match="didn't answer"):
        run.step(NamespaceStep).check()
    assert run.step(NamespaceStep).apply().status == Outcome.DONE


def test_an_unreachable_api_is_transient(run, kube_cluster):
    kube_cluster.stop()
    with pytest.raises(TransientError, match="didn't answer"):
        run.step(NamespaceStep).check()


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (409, 'Operation cannot be fulfilled on ingresses "wordpress"'),
        (422, 'Ingress.networking.k8s.io "wordpress" is invalid: spec.rules[0].host'),
    ],
)
def test_conflicts_and_invalid_objects_fail_the_step_naming_them(
    run, kube_cluster, status, message
):
    run.step(NamespaceStep).apply()
    kube_cluster.fail("PATCH", r"/ingresses/wordpress$", status, message=message)
    with pytest.raises(StepFailed) as failure:
        run.step(WordPressStep).apply()
    assert "Ingress wp-shop/wordpress" in str(failure.value)
    assert message in str(failure.value)


def test_hand_edits_are_reported_and_taken_back_by_the_next_apply(run, kube_cluster):
    run.provision()
    kube_cluster.scale("wordpress", NS, 3, manager="kubectl")  # kubectl scale --replicas=3
    kube_cluster.edit(
        "ResourceQuota", "tenant-quota", NS, {"spec": {"hard": {"pods": "50"}}}, "kubectl-edit"
    )
    namespace_step = run.step(NamespaceStep)
    assert namespace_step.check() == [
        'ResourceQuota tenant-quota: spec.hard.pods is "50", want "6"'
    ]
    namespace_step.apply()
    assert kube_cluster.get("ResourceQuota", "tenant-quota", NS)["spec"]["hard"]["pods"] == "6"
    wordpress = run.step(WordPressStep)
    assert "Deployment wordpress: spec.replicas is 3, want 1" in wordpress.check()
    # A plain re-apply would meet the 409 a real server gives (conflict with "kubectl" with
    # subresource "scale"); the portal's apply takes its field back instead.
    wordpress.apply()
    assert kube_cluster.get("Deployment", "wordpress", NS)["spec"]["replicas"] == 1
    kube_cluster.mark_ready(NS)
    assert wordpress.check() == []


def _update_db_jobs(fake) -> list[dict]:
    return [j for j in fake.list("Job", NS) if j["metadata"]["name"].startswith(UPDATE_DB_PREFIX)]


@pytest.mark.parametrize(("install_seconds", "look_in"), [(0, 0.0), (40, 40.0)])
def test_the_update_db_job_is_first_looked_at_about_when_the_install_job_took(
    run, kube_cluster, install_seconds, look_in
):
    run.step(NamespaceStep).apply()
    run.store.put({keys.DB_PASSWORD: "db-password-from-the-database-step"})
    wordpress = run.step(WordPressStep)
    wordpress.apply()
    kube_cluster.mark_ready(NS)  # the rollout and the install Job done, stamped this second
    [install] = [j for j in kube_cluster.list("Job", NS) if j not in _update_db_jobs(kube_cluster)]
    with kube_cluster.lock:
        status = kube_cluster.objects[("apis/batch/v1", "jobs", NS, install["metadata"]["name"])][
            "status"
        ]
        end = datetime.fromisoformat(status["completionTime"])
        status["startTime"] = f"{end - timedelta(seconds=install_seconds):%Y-%m-%dT%H:%M:%SZ}"
    updating = wordpress.apply()
    assert "wp core update-db is running" in updating.message
    assert updating.look_in == look_in  # the engine's first look: engine.wait_delay
    assert wordpress.apply().look_in is None  # the same Job running: the engine's own pace


def test_a_failed_update_db_job_fails_the_step_naming_the_command(run, kube_cluster):
    run.provision()
    [job] = _update_db_jobs(kube_cluster)
    name = job["metadata"]["name"]
    kube_cluster.fail_job(NS, name, "BackoffLimitExceeded", "Job has reached the backoff limit")
    wordpress = run.step(WordPressStep)
    assert wordpress.check() == [
        f"the update-db Job {name} failed (BackoffLimitExceeded): Job has reached the backoff limit"
    ]
    with pytest.raises(StepFailed, match=f"wp core update-db .* failed .*job/{name}"):
        wordpress.apply()
    assert _update_db_jobs(kube_cluster) == []  # a retry runs it again


def test_a_failed_install_job_fails_the_step_with_its_reason(run, kube_cluster):
    run.step(NamespaceStep).apply()
    wordpress = run.step(WordPressStep)
    wordpress.apply()
    [job] = kube_cluster.list("Job", NS)
    kube_cluster.fail_job(NS, job["metadata"]["name"], "BackoffLimitExceeded", "Job has reached")
    assert any("failed (BackoffLimitExceeded)" in d for d in wordpress.check())
    with pytest.raises(StepFailed, match="install Job .* failed \\(BackoffLimitExceeded\\)"):
        wordpress.apply()
    assert kube_cluster.list("Job", NS) == []  # a retry installs afresh


def test_restart_rolls_the_workload_and_a_reapply_keeps_the_restart(run, kube_cluster):
    run.provision()
    before = kube_cluster.get("Deployment", "wordpress", NS)
    assert restart_workload(run.spec) is True
    after = kube_cluster.get("Deployment", "wordpress", NS)
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
    wordpress = run.step(WordPressStep)
    assert wordpress.check() == ["the Deployment's new configuration is not picked up yet"]
    assert wordpress.apply().status == Outcome.WAITING
    kube_cluster.mark_ready(NS)
    assert wordpress.check() == []
    annotations = kube_cluster.get("Deployment", "wordpress", NS)["spec"]["template"]["metadata"]
    assert "kubectl.kubernetes.io/restartedAt" in annotations["annotations"]


def test_secret_values_never_reach_an_error(run, kube_cluster):
    run.step(NamespaceStep).apply()
    kube_cluster.fail("PATCH", r"/secrets/", 422, message="data[X]: Invalid value: s3cr3t-value")
    with pytest.raises(StepFailed) as failure:
        run.store.put({"X": "s3cr3t-value"})
    assert "s3cr3t-value" not in str(failure.value) and "<redacted>" in str(failure.value)


def test_the_fake_rejects_what_an_api_server_rejects(kube_cluster):
    from provisioning.drivers.kubernetes import make_driver

    api = make_driver()
    cm = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "x", "namespace": "nope"},
    }
    with pytest.raises(StepFailed, match='namespaces "nope" not found'):
        api.apply(cm)
    cm["metadata"]["namespace"] = "default"
    cm["automount"] = True  # a field the schema lacks: 500, but no reason to retry
    with pytest.raises(StepFailed, match="ServiceAccount default/x doesn't fit .* at .automount"):
        api.apply(cm)
    with pytest.raises(StepFailed, match="fieldManager: Required"):
        api.request(
            "PATCH",
            "/api/v1/namespaces/default/serviceaccounts/x",
            "apply without manager",
            body={"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "x"}},
            content_type="application/apply-patch+yaml",
        )


@pytest.mark.parametrize("owner", [None, "other"])
def test_a_namespace_that_is_not_the_tenants_is_neither_adopted_nor_deleted(
    run, kube_cluster, owner
):
    labels = {"team": "someone"} | ({"portal.wp.ionos/tenant": owner} if owner else {})
    kube_cluster.create({"kind": "Namespace", "metadata": {"name": NS, "labels": labels}})
    writes = len(kube_cluster.writes)
    step = run.step(NamespaceStep)
    for attempt in (step.check, step.apply):
        with pytest.raises(StepFailed, match=f"Namespace {NS} already exists and is") as failure:
            attempt()
        assert "portal.wp.ionos/tenant=shop" in str(failure.value)
    assert kube_cluster.writes[writes:] == []  # nothing changed
    outcome = step.destroy()
    assert outcome.status == Outcome.DONE and "left alone" in outcome.message
    assert kube_cluster.get("Namespace", NS)["metadata"]["labels"]["team"] == "someone"
    assert kube_cluster.writes[writes:] == []


def test_the_environments_proxy_is_resolved_once_not_before_every_request(
    kube_cluster, monkeypatch
):
    from provisioning.drivers import kubernetes

    monkeypatch.setenv("http_proxy", "http://proxy-a.example:3128")
    kubernetes._clients.clear()  # built anew under this environment
    configuration = kubernetes.api_client().configuration
    assert configuration.proxy == "http://proxy-a.example:3128"
    # The kubeconfig's token hook runs before every request and sets the host again; the
    # environment is not looked at again (a changed one takes a new process).
    monkeypatch.setenv("http_proxy", "http://proxy-b.example:3128")
    configuration.refresh_api_key_hook(configuration)
    assert configuration.proxy == "http://proxy-a.example:3128"
    kubernetes._clients.clear()


def test_the_schema_update_logs_the_version_the_database_ends_on(kube_cluster, settings):
    import uuid

    from tests import services as svc
    from tests.provisioning.test_database import admin, query

    svc.require("MariaDB", svc.MARIADB)
    settings.PORTAL_MARIADB_URL = svc.MARIADB_URL
    tenant = TenantFactory(slug=f"u{uuid.uuid4().hex[:10]}")
    spec = spec_for(tenant)
    conn = admin()
    query(conn, f"CREATE DATABASE `{spec.db_name}`")
    try:
        # What `wp core update-db` leaves (the Job's own run needs a kubelet).
        query(conn, f"CREATE TABLE `{spec.db_name}`.wp_options "
                    "(option_name VARCHAR(191), option_value LONGTEXT)")  # fmt: skip
        query(conn, f"INSERT INTO `{spec.db_name}`.wp_options VALUES ('db_version', '60421')")
        run = Run(spec, kube_cluster)
        run.step(NamespaceStep).apply()
        step = run.step(WordPressStep)
        for _ in range(4):
            if step.apply().status == Outcome.DONE:
                break
            kube_cluster.mark_ready(spec.namespace)
        assert any(
            "wp core update-db done" in line and line.endswith("; db_version 60421)")
            for line in run.log
        ), run.log
    finally:
        query(conn, f"DROP DATABASE IF EXISTS `{spec.db_name}`")
        conn.close()


def test_a_list_across_namespaces_is_read_page_by_page_by_label(kube_cluster):
    for namespace, labels in [("a", {"k": "v"}), ("b", {"k": "v"}), ("c", {"k": "w"})]:
        kube_cluster.create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
        )
        for name in ("one", "two"):
            kube_cluster.create(
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": name, "namespace": namespace, "labels": labels},
                }
            )
    kube_cluster.calls = []
    items = make_driver().list_all("v1", "ServiceAccount", {"k": "v"}, page=3)
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items] == [
        ("a", "one"),
        ("a", "two"),
        ("b", "one"),
        ("b", "two"),
    ]
    paths = [path for method, path, _, _ in kube_cluster.calls]
    assert len(paths) == 2 and all(p.startswith("/api/v1/serviceaccounts?") for p in paths)
    assert "limit=3" in paths[0] and "continue=" not in paths[0] and "continue=" in paths[1]


def test_pod_metrics_are_listed_once_summed_per_namespace_and_a_missing_api_is_said(
    kube_cluster,
):
    web = {**scanlists.SELECTOR, "app.kubernetes.io/component": "web"}
    kube_cluster.pod_usage("wp-a", "one", {"wp": {"cpu": "250000000n", "memory": "1Gi"}}, web)
    kube_cluster.pod_usage("wp-a", "two", {"wp": {"cpu": "50m", "memory": "512Ki"}}, web)
    kube_cluster.pod_usage("wp-b", "one", {"wp": {"cpu": "1", "memory": "1M"}}, web)
    kube_cluster.calls = []
    use = pod_use(make_driver())
    assert use.missing == ""
    assert use.by_namespace == {"wp-a": (300, 2**30 + 512 * 1024, 2), "wp-b": (1000, 10**6, 1)}
    [(_, path, _, _)] = kube_cluster.calls
    assert path.startswith("/apis/metrics.k8s.io/v1beta1/pods?")
    assert "labelSelector=app.kubernetes.io/component%3Dweb%2C" in path
    kube_cluster.metrics_api = False
    assert pod_use(make_driver()) == PodUse({}, NOT_SERVED)
