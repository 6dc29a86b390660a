"""The portal's RBAC as kustomize renders it, and an authorizer that enforces it on the fake API."""

from dataclasses import dataclass
from pathlib import Path

from tests.deploy.render import render
from tests.fakes.kube import Access

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "portal"
PORTAL = {"kind": "ServiceAccount", "name": "tenant-portal", "namespace": "tenant-portal"}
USERNAME = "system:serviceaccount:tenant-portal:tenant-portal"
RBAC = "rbac.authorization.k8s.io"


def rendered(overlay: str = "ionos") -> list[dict]:
    """`kubectl kustomize` of the overlay, as the cluster would get it."""
    return render(DEPLOY / "overlays" / overlay)


@dataclass(frozen=True)
class Rule:
    groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    names: tuple[str, ...]

    @classmethod
    def of(cls, rule: dict) -> "Rule":
        return cls(
            tuple(rule.get("apiGroups", ())),
            tuple(rule.get("resources", ())),
            tuple(rule.get("verbs", ())),
            tuple(rule.get("resourceNames", ())),
        )

    def allows(self, access: Access) -> bool:
        return (
            (access.group in self.groups or "*" in self.groups)
            and (access.resource in self.resources or "*" in self.resources)
            and (access.verb in self.verbs or "*" in self.verbs)
            and (not self.names or access.name in self.names)
        )

    def triples(self) -> set[tuple[str, str, str]]:
        return {(g, r, v) for g in self.groups for r in self.resources for v in self.verbs}


def _binds_portal(binding: dict) -> bool:
    return any(
        s.get("kind") == "ServiceAccount"
        and (s.get("name"), s.get("namespace")) == (PORTAL["name"], PORTAL["namespace"])
        for s in binding.get("subjects") or []
    )


class PortalRbac:
    """What the portal's ServiceAccount may do: cluster-wide through ClusterRoleBindings, and in
    a namespace through the RoleBindings there (a fake's objects say which exist)."""

    def __init__(self, manifests: list[dict]):
        self.roles = {
            m["metadata"]["name"]: [Rule.of(r) for r in m.get("rules") or []]
            for m in manifests
            if m["kind"] == "ClusterRole"
        }
        self.cluster_roles = [
            m["roleRef"]["name"]
            for m in manifests
            if m["kind"] == "ClusterRoleBinding" and _binds_portal(m)
        ]
        self.cluster_rules = [rule for name in self.cluster_roles for rule in self.roles[name]]
        self.bind_checks: list[Access] = []  # the escalation checks RBAC made on bindings

    def granted(self) -> set[tuple[str, str, str]]:
        """Every (group, resource, verb) of every ClusterRole the portal can come to hold."""
        return {t for rules in self.roles.values() for rule in rules for t in rule.triples()}

    def _namespace_rules(self, fake, namespace: str) -> list[Rule]:
        rules = []
        for key, obj in fake.objects.items():
            if key[1] == "rolebindings" and key[2] == namespace and _binds_portal(obj):
                rules += self.roles.get(obj["roleRef"]["name"], [])
        return rules

    def allows(self, fake, access: Access) -> bool:
        rules = self.cluster_rules
        if access.namespace and access.resource != "namespaces":
            rules = [*rules, *self._namespace_rules(fake, access.namespace)]
        return any(rule.allows(access) for rule in rules)

    def authorizer(self, fake):
        """The fake's `authorize`: RBAC, including its escalation check on RoleBindings."""

        def authorize(access: Access, body: dict | None) -> bool:
            if not self.allows(fake, access):
                return False
            if access.resource == "rolebindings" and access.verb in ("create", "patch"):
                role = (body or {}).get("roleRef", {}).get("name", "")
                bind = Access(RBAC, "clusterroles", "bind", "", role)
                self.bind_checks.append(bind)
                # Either `bind` on that role, or holding every right it grants (not modelled:
                # the portal holds no role it binds).
                return any(rule.allows(bind) for rule in self.cluster_rules)
            return True

        return authorize
