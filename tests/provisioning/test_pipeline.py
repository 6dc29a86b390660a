"""The pipeline step against the fake Kubernetes and Authentik APIs on loopback."""

import base64
import dataclasses
import json

import pytest
import requests

from provisioning import secrets as keys
from provisioning.drivers.kubernetes import KubeApi, KubernetesSecrets, api_client
from provisioning.errors import StepFailed
from provisioning.manifests.wordpress import install_job, wordpress_manifests
from provisioning.spec import TenantSpec, spec_for
from provisioning.steps.base import Outcome, StepContext
from provisioning.steps.namespace import NamespaceStep
from provisioning.steps.pipeline import PipelineStep
from tests.provisioning.test_sso import make_spec as sso_spec

PIPELINE_NS = "content-pipeline"
TARGETS = "pipeline-targets"


def make_spec(slug: str, pipeline: bool = True) -> TenantSpec:
    return dataclasses.replace(sso_spec(slug), pipeline=pipeline)


@pytest.fixture
def systems(kube_cluster, authentik_api):
    """The fake cluster (with the pipeline's namespace) and the fake Authentik."""
    driver = KubeApi(api_client())
    driver.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": PIPELINE_NS}})
    return driver, authentik_api


def step_for(spec: TenantSpec) -> tuple[PipelineStep, KubernetesSecrets]:
    store = KubernetesSecrets(spec)
    ctx = StepContext(spec=spec, secrets=store)
    NamespaceStep(ctx).apply()  # the tenant's namespace and Secret come first
    return PipelineStep(ctx), store


def targets(driver: KubeApi) -> dict[str, dict]:
    live = driver.read("v1", "Secret", TARGETS, PIPELINE_NS) or {}
    data = live.get("data") or {}
    return {k: json.loads(base64.b64decode(v)) for k, v in data.items()}


def policies(driver: KubeApi, spec: TenantSpec) -> list[str | None]:
    tenant = driver.read(
        "networking.k8s.io/v1", "NetworkPolicy", "allow-content-pipeline", spec.namespace
    )
    pipeline = driver.read(
        "networking.k8s.io/v1", "NetworkPolicy", f"to-tenant-{spec.slug}", PIPELINE_NS
    )
    return [p and p["metadata"]["name"] for p in (tenant, pipeline)]


def test_switch_on_creates_the_client_the_entry_and_the_policies(systems):
    driver, authentik = systems
    step, store = step_for(make_spec("acme"))
    assert "the pipeline's targets have no entry acme.json" in step.check()

    assert step.apply().status == Outcome.DONE

    provider = authentik.provider_named("pipeline-acme")
    assert provider["client_type"] == "confidential"
    entry = targets(driver)["acme.json"]
    # The pipeline's credentials are the ones Authentik holds for this tenant's client only.
    assert entry["client_id"] == provider["client_id"] == store.get(keys.PIPELINE_CLIENT_ID)
    # It signs in as the tenant's service account with its app password, not the client secret.
    user = next(u for u in authentik.users.values() if u["username"] == "pipeline-acme")
    assert authentik.user_extras[user["pk"]]["type"] == "service_account"
    assert user["attributes"] == {"tenant-portal": "acme"}
    token = authentik.tokens["pipeline-acme-app-password"]
    assert (token["intent"], token["user"], token["expiring"]) == (
        "app_password",
        user["pk"],
        False,
    )
    assert entry["username"] == "pipeline-acme"
    assert entry["password"] == authentik.token_keys["pipeline-acme-app-password"]
    assert entry["password"] == store.get(keys.PIPELINE_APP_PASSWORD)
    assert "client_secret" not in entry
    assert entry["audience"] == provider["client_id"]
    assert entry["tenant"] == "acme"
    assert entry["api_base_url"] == "http://wordpress.wp-acme.svc/wp-json/"
    assert entry["token_url"].endswith("/application/o/token/")
    assert policies(driver, step.spec) == ["allow-content-pipeline", "to-tenant-acme"]
    assert len(store.get(keys.PIPELINE_WEBHOOK_SECRET)) >= 40
    # The pipeline reports its failures signed with a key of its own, not the site's.
    assert entry["report_url"] == "http://web.tenant-portal.svc/hooks/pipeline/"
    assert entry["report_key"] == store.get(keys.PIPELINE_REPORT_SECRET)
    assert len(entry["report_key"]) >= 40
    assert entry["report_key"] != store.get(keys.PIPELINE_WEBHOOK_SECRET)
    assert step.check() == []


def test_the_policies_let_exactly_the_pipeline_and_the_tenant_talk(systems):
    driver, _ = systems
    step, _ = step_for(make_spec("acme"))
    step.apply()
    ingress = driver.read(
        "networking.k8s.io/v1", "NetworkPolicy", "allow-content-pipeline", "wp-acme"
    )
    rule = ingress["spec"]["ingress"][0]
    assert rule["from"] == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": PIPELINE_NS}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "content-pipeline"}},
        }
    ]
    assert ingress["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "web"
    egress = driver.read("networking.k8s.io/v1", "NetworkPolicy", "to-tenant-acme", PIPELINE_NS)
    to = egress["spec"]["egress"][0]["to"][0]
    assert to["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "wp-acme"}}
    assert egress["spec"]["egress"][0]["ports"] == [{"protocol": "TCP", "port": 80}]


def two_tenants() -> tuple[PipelineStep, PipelineStep]:
    """acme and shop, both switched on and applied."""
    acme, _ = step_for(make_spec("acme"))
    shop, _ = step_for(make_spec("shop"))
    acme.apply()
    shop.apply()
    return acme, shop


def test_switch_off_removes_everything_and_leaves_other_tenants_alone(systems):
    driver, authentik = systems
    acme, shop = two_tenants()
    shop_entry = targets(driver)["shop.json"]

    off, _ = step_for(make_spec("acme", pipeline=False))
    assert "the pipeline's targets still have an entry acme.json" in off.check()
    outcome = off.apply()

    assert "removed the pipeline's entry acme.json" in outcome.message
    assert targets(driver) == {"shop.json": shop_entry}
    assert authentik.provider_named("pipeline-acme") is None
    assert authentik.applications.get("pipeline-acme") is None
    assert "pipeline-acme-app-password" not in authentik.tokens
    assert "pipeline-acme" not in {u["username"] for u in authentik.users.values()}
    assert KubernetesSecrets(acme.spec).get(keys.PIPELINE_APP_PASSWORD) is None
    assert policies(driver, acme.spec) == [None, None]
    assert KubernetesSecrets(acme.spec).get(keys.PIPELINE_CLIENT_ID) is None
    assert KubernetesSecrets(acme.spec).get(keys.PIPELINE_WEBHOOK_SECRET) is None
    assert KubernetesSecrets(acme.spec).get(keys.PIPELINE_REPORT_SECRET) is None
    assert off.check() == []
    # The other tenant's client, entry and policies are as they were.
    assert authentik.provider_named("pipeline-shop")["client_id"] == shop_entry["client_id"]
    assert policies(driver, shop.spec) == ["allow-content-pipeline", "to-tenant-shop"]
    assert shop.check() == []


def test_tenant_deletion_removes_the_pipeline_link_and_leaves_other_tenants_alone(systems):
    driver, authentik = systems
    acme, shop = two_tenants()
    shop_entry = targets(driver)["shop.json"]
    gone, _ = step_for(dataclasses.replace(make_spec("acme"), present=False))
    gone.destroy()
    assert targets(driver) == {"shop.json": shop_entry}
    assert authentik.provider_named("pipeline-acme") is None
    assert authentik.applications.get("pipeline-acme") is None
    assert "pipeline-acme" not in {u["username"] for u in authentik.users.values()}
    assert "pipeline-acme-app-password" not in authentik.tokens
    assert policies(driver, acme.spec) == [None, None]
    assert gone.destroy().message == "nothing to remove"
    # shop's client, account, app password and policies are as they were, and still work.
    assert authentik.provider_named("pipeline-shop")["client_id"] == shop_entry["client_id"]
    assert authentik.token_keys["pipeline-shop-app-password"] == shop_entry["password"]
    assert policies(driver, shop.spec) == ["allow-content-pipeline", "to-tenant-shop"]
    assert shop.check() == []
    assert entry_token(shop_entry).status_code == 200


OAUTH_REFUSALS = ("invalid_grant", "invalid_client", "unsupported_grant_type")


def token_request(url: str, **form: str) -> requests.Response:
    return requests.post(url, data=form, timeout=5)


def entry_token(entry: dict, **form: str) -> requests.Response:
    """The pipeline's token request with a targets entry's credentials (some replaced)."""
    fields = {"client_id": entry["client_id"], "username": entry["username"]}
    fields = {"grant_type": "client_credentials", **fields, "password": entry["password"]}
    return token_request(entry["token_url"], **{**fields, **form})


def test_the_credentials_in_the_targets_secret_get_a_token(systems):
    driver, authentik = systems
    step, _ = step_for(make_spec("acme"))
    step.apply()
    entry = targets(driver)["acme.json"]
    # The request the pipeline makes: only what its entry holds.
    answer = token_request(
        entry["token_url"],
        grant_type=entry["grant_type"],
        client_id=entry["client_id"],
        username=entry["username"],
        password=entry["password"],
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["token_type"] == "Bearer"
    issued = authentik.issued[-1]
    assert issued["access_token"] == answer.json()["access_token"]
    assert issued["client_id"] == entry["audience"]


def test_the_fake_token_endpoint_wants_the_service_account_and_its_app_password(systems):
    driver, authentik = systems
    step, store = step_for(make_spec("acme"))
    step.apply()
    entry = targets(driver)["acme.json"]
    url, client_id = entry["token_url"], entry["client_id"]
    good = {"client_id": client_id, "username": "pipeline-acme", "password": entry["password"]}
    assert token_request(url, grant_type="client_credentials", **good).status_code == 200
    # authentik treats the password grant as client_credentials.
    assert token_request(url, grant_type="password", **good).status_code == 200

    secret = store.get(keys.PIPELINE_CLIENT_SECRET)
    refused = [
        # the provider's own client id and secret: not enough for authentik
        {"client_id": client_id, "client_secret": secret},
        {**good, "password": secret},
        {**good, "password": "not-the-key"},
        {**good, "username": "someone-else"},
        {**good, "client_id": "unknown-client"},
        {**good, "grant_type": "authorization_code"},
    ]
    for form in refused:
        answer = token_request(url, **{"grant_type": "client_credentials", **form})
        assert answer.status_code == 400, form
        assert answer.json()["error"] in (
            "invalid_grant",
            "invalid_client",
            "unsupported_grant_type",
        )
    # An app password of another intent, or an expired one, is no password.
    authentik.tokens["pipeline-acme-app-password"]["intent"] = "api"
    assert token_request(url, grant_type="client_credentials", **good).status_code == 400
    authentik.tokens["pipeline-acme-app-password"].update(
        intent="app_password", expiring=True, expires="2020-01-01T00:00:00.000000Z"
    )
    assert token_request(url, grant_type="client_credentials", **good).status_code == 400


def test_only_the_tenants_service_account_gets_a_token_for_its_client(systems):
    driver, authentik = systems
    acme, _ = two_tenants()
    acme_entry, shop_entry = targets(driver)["acme.json"], targets(driver)["shop.json"]
    # shop's account and app password, with acme's client: refused by acme's binding.
    answer = entry_token(
        acme_entry, username=shop_entry["username"], password=shop_entry["password"]
    )
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"
    # Someone opens acme's application to another group: the check says so, apply undoes it.
    app = authentik.applications["pipeline-acme"]
    group = authentik.add_group("everyone")
    authentik.handle(
        "POST",
        "/api/v3/policies/bindings/",
        {},
        {"target": app["pk"], "group": group["pk"], "order": 1},
    )
    assert acme.check() == ["application pipeline-acme is open to 1 others too"]
    assert "unbound 1 others" in acme.apply().message
    assert acme.check() == []


def test_an_expiring_or_rotated_app_password_is_repaired(systems):
    driver, authentik = systems
    step, store = step_for(make_spec("acme"))
    step.apply()
    authentik.tokens["pipeline-acme-app-password"]["expiring"] = True
    assert step.check() == ["app password pipeline-acme-app-password expires"]
    # Rotated in Authentik: the next apply reads the new key into the entry.
    authentik.token_keys["pipeline-acme-app-password"] = "rotated-" + "k" * 40
    outcome = step.apply()
    assert "made app password pipeline-acme-app-password non-expiring" in outcome.message
    assert "rotated-" not in outcome.message
    assert targets(driver)["acme.json"]["password"] == "rotated-" + "k" * 40
    assert store.get(keys.PIPELINE_APP_PASSWORD) == "rotated-" + "k" * 40
    assert step.check() == []


def test_a_user_of_that_name_not_the_tenants_is_left_alone(systems):
    driver, authentik = systems
    authentik.add_user("pipeline-acme")
    step, _ = step_for(make_spec("acme"))
    with pytest.raises(StepFailed, match="user pipeline-acme that is not tenant acme's"):
        step.live_apply()
    assert "pipeline-acme-app-password" not in authentik.tokens
    gone, _ = step_for(dataclasses.replace(make_spec("acme"), present=False))
    assert "left service account pipeline-acme alone" in gone.destroy().message
    assert "pipeline-acme" in {u["username"] for u in authentik.users.values()}


def test_the_entry_is_put_back_when_someone_changes_it(systems):
    driver, _ = systems
    step, _ = step_for(make_spec("acme"))
    step.apply()
    driver.merge_patch(
        "v1", "Secret", TARGETS, PIPELINE_NS, {"stringData": {"acme.json": "{}"}}, "kubectl"
    )
    assert step.check() == ["the pipeline's entry acme.json differs from the tenant's client"]
    step.apply()
    assert step.check() == []


def test_plan_mode_names_the_resources_but_no_credential(settings):
    settings.PORTAL_AUTHENTIK_URL = ""
    step = PipelineStep(StepContext(spec=make_spec("acme"), secrets=keys.PlanSecrets()))
    assert step.apply().status == Outcome.PLANNED
    plan = json.loads(step.plan_file.read_text())
    assert plan["targets"]["value"]["password"] == keys.PLACEHOLDER
    assert plan["targets"]["value"]["report_key"] == keys.PLACEHOLDER
    account = plan["service_account"]
    assert account[1]["body"]["type"] == "service_account"
    assert account[2]["body"]["intent"] == "app_password"
    assert account[2]["body"]["expiring"] is False
    assert [p["metadata"]["name"] for p in plan["network_policies"]] == [
        "allow-content-pipeline",
        "to-tenant-acme",
    ]
    off = PipelineStep(StepContext(spec=make_spec("acme", False), secrets=keys.PlanSecrets()))
    assert json.loads(off.render())["enabled"] is False


def _env(container: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


def test_the_install_job_installs_and_configures_the_mcp_plugin_only_when_on():
    on = install_job(make_spec("acme"))["spec"]["template"]["spec"]["containers"][0]
    env = _env(on)
    assert env["PIPELINE_ENABLED"] == "true"
    assert env["MCP_PLUGIN"] == "mcp-adapter"
    assert env["PIPELINE_WEBHOOK_URL"] == "http://web.tenant-portal.svc/hooks/pipeline/"
    assert env["PIPELINE_CLIENT_ID"]["secretKeyRef"]["key"] == keys.PIPELINE_CLIENT_ID
    script = on["command"][2]
    # From the tenant image like the other plugins (deploy/wordpress): no download.
    assert 'portal_plugin "$MCP_PLUGIN"' in script
    assert "portal-pipeline.php" in script and "application/o/introspect/" in script
    assert "X-Pipeline-Signature" in script

    off = install_job(make_spec("acme", False))["spec"]["template"]["spec"]["containers"][0]
    assert _env(off)["PIPELINE_ENABLED"] == "false"
    assert "PIPELINE_CLIENT_ID" not in _env(off)
    # The site's pods of a tenant without the pipeline don't see any of it.
    web = wordpress_manifests(make_spec("acme", False))[1]
    assert not [
        e for e in _env(web["spec"]["template"]["spec"]["containers"][0]) if "PIPELINE" in e
    ]


def test_a_tenant_without_the_pipeline_costs_its_drift_check_no_outside_call(systems):
    driver, authentik = systems
    step, _ = step_for(make_spec("acme", pipeline=False))
    before = len(authentik.requests)
    assert step.check() == []
    assert len(authentik.requests) == before


ENGINE_STEPS = [
    "provisioning.steps.namespace.NamespaceStep",
    "provisioning.steps.network.NetworkStep",
    "provisioning.steps.pipeline.PipelineStep",
]


def _settle(tenant) -> None:
    from provisioning import engine
    from provisioning.models import Run

    for _ in range(10):
        delay = engine.reconcile(tenant.pk)
        tenant.refresh_from_db()
        if delay is None and tenant.state in ("ready", "failed", "deleted"):
            return
        Run.objects.filter(tenant=tenant).update(not_before=None)
    raise AssertionError(f"{tenant.slug} stayed {tenant.state}: {tenant.last_error}")


@pytest.mark.django_db
def test_the_owner_switch_goes_through_the_engine_on_then_off(
    systems, settings, requester, approver, django_capture_on_commit_callbacks
):
    from tenants import pipeline, services
    from tenants.models import Tenant
    from tests.factories import TenantFactory

    settings.PORTAL_STEPS = ENGINE_STEPS
    driver, authentik = systems
    tenant = TenantFactory(owner=requester, slug="eng", content_pipeline=True)
    with django_capture_on_commit_callbacks(execute=False):
        services.tenant_approve(tenant_id=tenant.pk, actor=approver)
    _settle(tenant)
    assert tenant.state == Tenant.State.READY, tenant.last_error
    assert set(targets(driver)) == {"eng.json"}
    assert authentik.provider_named("pipeline-eng") is not None

    with django_capture_on_commit_callbacks(execute=False):
        pipeline.tenant_pipeline_switch(tenant=tenant, actor=requester, on=False)
    _settle(tenant)
    assert tenant.state == Tenant.State.READY, tenant.last_error
    assert targets(driver) == {}
    assert authentik.provider_named("pipeline-eng") is None
    assert policies(driver, spec_for(tenant)) == [None, None]
    step = tenant.runs.order_by("-id").first().steps.get(name="pipeline")
    assert "removed the pipeline's entry eng.json" in step.log


@pytest.mark.django_db
def test_deleting_a_tenant_with_the_pipeline_on_removes_its_link_through_the_engine(
    systems, settings, kube_cluster, requester, approver, django_capture_on_commit_callbacks
):
    from tenants import services
    from tenants.models import Tenant
    from tests.factories import TenantFactory
    from tests.provisioning.test_kubernetes_engine import reconcile_until_settled

    settings.PORTAL_STEPS = ENGINE_STEPS
    driver, authentik = systems
    built = []
    for slug in ("eng", "other"):
        tenant = TenantFactory(owner=requester, slug=slug, content_pipeline=True)
        with django_capture_on_commit_callbacks(execute=False):
            services.tenant_approve(tenant_id=tenant.pk, actor=approver)
        _settle(tenant)
        assert tenant.state == Tenant.State.READY, tenant.last_error
        built.append(tenant)
    eng, other = built
    other_entry = targets(driver)["other.json"]

    with django_capture_on_commit_callbacks(execute=False):
        services.tenant_delete(tenant=eng, actor=approver, now=True)
    reconcile_until_settled(eng, kube_cluster)
    eng.refresh_from_db()
    assert eng.state == Tenant.State.DELETED, eng.last_error
    # Its entry, client, service account, app password and policies went through the engine.
    assert targets(driver) == {"other.json": other_entry}
    assert authentik.provider_named("pipeline-eng") is None
    assert authentik.applications.get("pipeline-eng") is None
    assert "pipeline-eng" not in {u["username"] for u in authentik.users.values()}
    assert "pipeline-eng-app-password" not in authentik.tokens
    policy = ("networking.k8s.io/v1", "NetworkPolicy", "to-tenant-eng", PIPELINE_NS)
    assert driver.read(*policy) is None
    step = eng.runs.order_by("-id").first().steps.get(name="pipeline")
    assert "removed the pipeline's entry eng.json" in step.log
    # The other tenant's link is untouched.
    assert authentik.provider_named("pipeline-other")["client_id"] == other_entry["client_id"]
    assert policies(driver, spec_for(other)) == ["allow-content-pipeline", "to-tenant-other"]
