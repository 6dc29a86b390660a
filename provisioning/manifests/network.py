"""The tenant's NetworkPolicies: nothing in or out except what WordPress needs."""

from django.conf import settings

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
        _to(s.PORTAL_EGRESS_DB_CIDRS, s.PORTAL_EGRESS_DB_PORT),
        _to(s.PORTAL_EGRESS_S3_CIDRS, s.PORTAL_EGRESS_S3_PORT),
        _to(s.PORTAL_EGRESS_AUTHENTIK_CIDRS, s.PORTAL_EGRESS_AUTHENTIK_PORT),
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
        # Only the install Job fetches plugins (from wordpress.org); the site itself can't.
        _policy(
            spec,
            "allow-install-downloads",
            {"matchLabels": selector(spec, COMPONENT_INSTALL)},
            ["Egress"],
            egress=[_to(s.PORTAL_EGRESS_INSTALL_CIDRS, 443)],
        ),
    ]
