"""The admission policy that keeps the portal's ServiceAccount to its own namespaces, evaluated
with a CEL interpreter (cel-python) on the requests an API server would hand it."""

import celpy
import pytest

from provisioning.manifests import all_manifests
from provisioning.spec import spec_for
from tests.deploy.rbac import USERNAME, rendered
from tests.factories import TenantFactory

GROUPS = {"v1": ""}


@pytest.fixture(scope="module")
def policy() -> dict:
    return next(m for m in rendered() if m["kind"] == "ValidatingAdmissionPolicy")


def admit(policy: dict, operation: str, new: dict | None, old: dict | None = None,
          namespace: dict | None = None, user: str = USERNAME) -> list[str]:  # fmt: skip
    """The messages of the validations that deny this request; empty when it is admitted."""
    env = celpy.Environment()

    def run(expression: str, activation: dict):
        # Kubernetes' CEL compares any value with null (heterogeneous equality); cel-python
        # 0.5 knows no overload for map != null, so that one test is handed in as a boolean.
        expression = expression.replace("namespaceObject != null", "namespaceObject_present")
        return env.program(env.compile(expression)).evaluate(activation)

    obj = new or old
    api_version = obj["apiVersion"]
    group = GROUPS.get(api_version, api_version.split("/")[0])
    plural = {"Namespace": "namespaces", "RoleBinding": "rolebindings"}.get(
        obj["kind"], obj["kind"].lower() + "s"
    )
    request = {
        "userInfo": {"username": user},
        "operation": operation,
        "resource": {"group": group, "version": api_version.split("/")[-1], "resource": plural},
    }
    activation = {
        "request": celpy.json_to_cel(request),
        "object": celpy.json_to_cel(new),
        "oldObject": celpy.json_to_cel(old),
        "namespaceObject": celpy.json_to_cel(namespace),
        "namespaceObject_present": celpy.celtypes.BoolType(namespace is not None),
    }
    spec = policy["spec"]
    if not all(run(c["expression"], activation) for c in spec["matchConditions"]):
        return []
    variables = {}
    for variable in spec["variables"]:
        variables[variable["name"]] = run(variable["expression"], activation)
        activation["variables"] = celpy.celtypes.MapType(
            {celpy.celtypes.StringType(k): v for k, v in variables.items()}
        )
    return [v["message"] for v in spec["validations"] if not run(v["expression"], activation)]


def namespace(name: str, labels: dict | None = None) -> dict:
    meta = {"name": name, **({"labels": labels} if labels is not None else {})}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


OURS = {"app.kubernetes.io/managed-by": "tenant-portal"}
SYSTEM = namespace("kube-system", {"kubernetes.io/metadata.name": "kube-system"})
SECRET = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "x"}}


def binding(role: str = "tenant-portal-tenant", **subject) -> dict:
    who = {"kind": "ServiceAccount", "name": "tenant-portal", "namespace": "tenant-portal"}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "tenant-portal", "namespace": "wp-shop"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{**who, **subject}],
    }


@pytest.mark.django_db
def test_everything_a_tenant_is_made_of_is_admitted(policy):
    manifests = all_manifests(spec_for(TenantFactory(slug="shop")))
    ns = next(m for m in manifests if m["kind"] == "Namespace")
    assert admit(policy, "CREATE", ns) == []
    assert admit(policy, "UPDATE", ns, ns) == []
    for manifest in manifests:
        if manifest is not ns:
            assert admit(policy, "CREATE", manifest, namespace=ns) == [], manifest["kind"]
            assert admit(policy, "UPDATE", manifest, manifest, namespace=ns) == []
    assert admit(policy, "DELETE", None, ns) == []


def test_no_write_outside_the_portals_namespaces(policy):
    (denied,) = admit(policy, "CREATE", SECRET, namespace=SYSTEM)
    assert "only in namespaces labelled app.kubernetes.io/managed-by=tenant-portal" in denied
    assert admit(policy, "DELETE", None, SECRET, namespace=namespace("default")) != []
    assert admit(policy, "CREATE", SECRET, namespace=namespace("wp-shop", OURS)) == []


def test_no_foreign_namespace_becomes_the_portals(policy):
    claimed = namespace("kube-system", {**SYSTEM["metadata"]["labels"], **OURS})
    assert admit(policy, "UPDATE", claimed, SYSTEM) != []  # labelling it as the portal's
    assert admit(policy, "DELETE", None, SYSTEM) != []
    assert admit(policy, "CREATE", namespace("wp-shop")) != []  # unlabelled
    assert admit(policy, "CREATE", namespace("evil", OURS)) != []  # not a tenant's name
    # An unlabelled wp-* namespace made by hand is not the portal's either.
    assert admit(policy, "UPDATE", namespace("wp-shop", OURS), namespace("wp-shop")) != []


def test_the_tenant_role_is_bound_only_to_the_portal(policy):
    ours = namespace("wp-shop", OURS)
    assert admit(policy, "CREATE", binding(), namespace=ours) == []
    assert admit(policy, "CREATE", binding("cluster-admin"), namespace=ours) != []
    assert admit(policy, "CREATE", binding(name="intruder"), namespace=ours) != []
    assert admit(policy, "UPDATE", binding(namespace="elsewhere"), binding(), ours) != []


def test_other_users_are_not_this_policys_business(policy):
    assert admit(policy, "CREATE", SECRET, namespace=SYSTEM, user="kubernetes-admin") == []
