"""deploy/: OpenWebUI and the content pipeline as platform workloads, wired the way the portal's
pipeline step (provisioning/steps/pipeline.py) expects them."""

from django.conf import settings

from tests.deploy.render import REPO, render

PLATFORM = REPO / "deploy" / "platform"


def objects(layer: str) -> list[dict]:
    return render(PLATFORM / layer)


def find(items: list[dict], kind: str, name: str, namespace: str | None = None) -> dict:
    return next(
        m
        for m in items
        if m["kind"] == kind
        and m["metadata"]["name"] == name
        and (namespace is None or m["metadata"].get("namespace") == namespace)
    )


def env_of(deployment: dict) -> dict:
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def test_openwebui_signs_in_through_authentik_and_uses_the_ionos_endpoint_from_settings():
    apps = objects("apps")
    webui = find(apps, "Deployment", "openwebui", "openwebui")
    env = env_of(webui)
    assert env["OPENID_PROVIDER_URL"] == (
        "https://authentik.${DNS_ZONE}/application/o/openwebui/.well-known/openid-configuration"
    )
    assert env["ENABLE_LOGIN_FORM"] == "false"  # Authentik only
    # An Authentik account never takes over another's by its e-mail address.
    assert env["OAUTH_MERGE_ACCOUNTS_BY_EMAIL"] == "false"
    assert env["OPENAI_API_BASE_URLS"].split(";") == [
        "${IONOS_AI_ENDPOINT}",
        "http://pipeline.content-pipeline.svc:9099",
    ]
    container = webui["spec"]["template"]["spec"]["containers"][0]
    assert container["envFrom"] == [{"secretRef": {"name": "openwebui"}}]
    assert "secret" not in str(env).lower().replace("secretref", "")
    ingress = find(apps, "Ingress", "openwebui", "openwebui")
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"] == "letsencrypt"
    assert find(apps, "ExternalSecret", "openwebui", "openwebui")


def test_the_pipeline_runs_where_and_as_the_portal_step_expects():
    apps = objects("apps")
    namespace = settings.PORTAL_PIPELINE_NAMESPACE
    pipeline = find(apps, "Deployment", "pipeline", namespace)
    labels = pipeline["spec"]["template"]["metadata"]["labels"]
    # The tenants' policies let in exactly these pods.
    assert labels["app.kubernetes.io/name"] == settings.PORTAL_PIPELINE_APP
    volumes = pipeline["spec"]["template"]["spec"]["volumes"]
    targets = {"secretName": settings.PORTAL_PIPELINE_TARGETS_SECRET, "optional": True}
    assert {"name": "targets", "secret": targets} in volumes
    role = find(apps, "Role", "tenant-portal-pipeline", namespace)
    granted = {(r["resources"][0], v) for r in role["rules"] for v in r["verbs"]}
    assert granted >= {("secrets", "patch"), ("secrets", "create"),
                       ("networkpolicies", "delete"), ("networkpolicies", "patch")}  # fmt: skip
    binding = find(apps, "RoleBinding", "tenant-portal-pipeline", namespace)
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "tenant-portal", "namespace": "tenant-portal"}
    ]


def test_the_pipeline_namespace_is_closed_and_open_to_the_portal_only_by_its_label():
    namespaces = objects("namespaces")
    namespace = find(namespaces, "Namespace", settings.PORTAL_PIPELINE_NAMESPACE)
    # The portal's admission policy lets it write only in namespaces labelled as its own.
    assert namespace["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "tenant-portal"
    policy = find(namespaces, "NetworkPolicy", "content-pipeline", namespace["metadata"]["name"])
    (source,) = policy["spec"]["ingress"][0]["from"]
    assert source["namespaceSelector"]["matchLabels"] == {
        "kubernetes.io/metadata.name": "openwebui"
    }


def test_the_portal_takes_confirmations_from_tenant_sites_only():
    portal = render(REPO / "deploy" / "portal" / "base")
    policy = find(portal, "NetworkPolicy", "web-from-tenant-sites")
    (source,) = policy["spec"]["ingress"][0]["from"]
    assert source["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "wordpress"
    assert policy["spec"]["ingress"][0]["ports"] == [
        {"port": settings.PORTAL_PIPELINE_WEBHOOK_PORT, "protocol": "TCP"}
    ]


def test_the_pipeline_reaches_the_portals_webhook_to_report_failures():
    namespaces = objects("namespaces")
    policy = find(
        namespaces, "NetworkPolicy", "content-pipeline", settings.PORTAL_PIPELINE_NAMESPACE
    )
    port = [{"port": settings.PORTAL_PIPELINE_WEBHOOK_PORT, "protocol": "TCP"}]
    web = {"app.kubernetes.io/name": "tenant-portal", "app.kubernetes.io/component": "web"}
    to_portal = {
        "to": [
            {
                "namespaceSelector": {
                    "matchLabels": {
                        "kubernetes.io/metadata.name": settings.PORTAL_PIPELINE_WEBHOOK_NAMESPACE
                    }
                },
                "podSelector": {"matchLabels": web},
            }
        ],
        "ports": port,
    }
    assert to_portal in policy["spec"]["egress"]
    portal = render(REPO / "deploy" / "portal" / "base")
    ingress = find(portal, "NetworkPolicy", "web-from-pipeline")
    assert ingress["spec"]["podSelector"]["matchLabels"] == web
    (rule,) = ingress["spec"]["ingress"]
    assert rule["ports"] == port
    assert rule["from"] == [
        {
            "namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": settings.PORTAL_PIPELINE_NAMESPACE}
            },
            "podSelector": {
                "matchLabels": {"app.kubernetes.io/name": settings.PORTAL_PIPELINE_APP}
            },
        }
    ]
