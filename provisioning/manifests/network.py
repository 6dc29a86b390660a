"""The tenant's NetworkPolicies: nothing in or out except what WordPress needs."""

from django.conf import settings

from provisioning import egress
from provisioning.manifests.common import COMPONENT_INSTALL, meta, selector
from provisioning.spec import TenantSpec


def _policy(spec: TenantSpec, name: str, pod_selector: dict, types: list[str], **rules) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": meta(spec, name),
        "spec": {"podSelector": pod_selector, "policyTypes": types, **rules},
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
    services = [target.rule() for target in egress.targets()]
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
