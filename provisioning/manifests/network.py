"""The tenant's NetworkPolicies: nothing in or out except what WordPress needs."""

from urllib.parse import urlsplit

from django.conf import settings

from provisioning import authentikurls
from provisioning.manifests.common import COMPONENT_INSTALL, meta, selector
from provisioning.spec import TenantSpec


def _policy(spec: TenantSpec, name: str, pod_selector: dict, types: list[str], **rules) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta(spec, name),
        "spec": {"podSelector": pod_selector, "policyTypes": types, **rules},
    }


def _to(cidrs: list[str], port: int) -> dict:
    return {
        "to": [{"ipBlock": {"cidr": cidr}} for cidr in cidrs],
        "ports": [{"protocol": "TCP", "port": port}],
    }


def _url_port(url: str, fallback: int) -> int:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return port or {"https": 443, "http": 80}.get(parts.scheme, fallback)


def db_port() -> int:
    if settings.PORTAL_EGRESS_DB_PORT:
        return settings.PORTAL_EGRESS_DB_PORT
    # Imported here: the WordPress manifests import this module's neighbours, not it.
    from provisioning.manifests.wordpress import db_host

    _, _, port = db_host().rpartition(":")
    return int(port) if port.isdigit() else 3306


def s3_port() -> int:
    return settings.PORTAL_EGRESS_S3_PORT or _url_port(settings.PORTAL_S3_ENDPOINT_URL, 443)


def authentik_rule() -> dict:
    """Egress to the Authentik the pods call (token, userinfo). In the cluster a Service's port
    is not the pod's that a policy sees, so there the rule names Authentik's namespace."""
    url = authentikurls.api_url()
    host = (urlsplit(url).hostname or "").lower()
    labels = host.split(".")
    if authentikurls.looks_in_cluster(url) and len(labels) >= 3 and labels[2] == "svc":
        return {
            "to": [
                {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": labels[1]}}}
            ]
        }
    port = settings.PORTAL_EGRESS_AUTHENTIK_PORT or _url_port(url, 443)
    return _to(settings.PORTAL_EGRESS_AUTHENTIK_CIDRS, port)


def network_manifests(spec: TenantSpec) -> list[dict]:
    s = settings
    ingress_from = {
        "from": [
            {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": s.PORTAL_INGRESS_NAMESPACE}
                }
            }
        ],
        "ports": [{"protocol": "TCP", "port": 80}],
    }
    dns = {
        "to": [
            {
                "namespaceSelector": {
                    "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                },
                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
            }
        ],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    }
    services = [
        _to(s.PORTAL_EGRESS_DB_CIDRS, db_port()),
        _to(s.PORTAL_EGRESS_S3_CIDRS, s3_port()),
        authentik_rule(),
    ]
    return [
        # Every pod of the namespace: nothing in, nothing out, unless a policy below allows it.
        _policy(spec, "default-deny", {}, ["Ingress", "Egress"]),
        _policy(spec, "allow-from-ingress-controller", {}, ["Ingress"], ingress=[ingress_from]),
        _policy(spec, "allow-egress-dns", {}, ["Egress"], egress=[dns]),
        _policy(
            spec,
            "allow-egress-platform-services",
            {},
            ["Egress"],
            egress=[rule for rule in services if rule["to"]],
        ),
        # The install Job once downloaded plugins (egress to any address on 443 under this
        # name); the image holds them now. Kept by name with no rule, so applying it takes that
        # allowance away from tenants made before: the Job gets only what every pod gets.
        _policy(
            spec,
            "allow-install-downloads",
            {"matchLabels": selector(spec, COMPONENT_INSTALL)},
            ["Egress"],
        ),
    ]
