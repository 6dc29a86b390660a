"""The tenant's Namespace, its quota and limits, WordPress's ServiceAccount and the Secret."""

from django.conf import settings

from provisioning.manifests.common import cpu, labels, memory, meta, storage
from provisioning.schema import KUBERNETES_VERSION
from provisioning.secrets import SECRET_NAME
from provisioning.spec import TenantSpec

SERVICE_ACCOUNT = "wordpress"
PORTAL_ACCESS = "tenant-portal"  # the RoleBinding that lets the portal in
QUOTA = "tenant-quota"
LIMITS = "tenant-limits"
_PSA_VERSION = "v" + ".".join(KUBERNETES_VERSION.split(".")[:2])

# Pods the quota leaves room for beyond the plan's replicas: one surge pod of a rolling update and
# the one-off install Job.
_EXTRA_PODS = 2


def namespace(spec: TenantSpec) -> dict:
    psa = {
        # The portal's pods meet "restricted"; "baseline" is enforced so that anything else
        # placed here by hand still can't run privileged, and "restricted" is reported.
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/enforce-version": _PSA_VERSION,
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": _PSA_VERSION,
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/audit-version": _PSA_VERSION,
    }
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": spec.namespace, "labels": {**labels(spec), **psa}},
    }


def resource_quota(spec: TenantSpec) -> dict:
    plan = spec.plan
    pods = plan.replicas + _EXTRA_PODS
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": meta(spec, QUOTA),
        "spec": {
            "hard": {
                "pods": str(max(plan.max_pods, pods)),
                "requests.cpu": cpu(plan.cpu_request_millicores * pods),
                "limits.cpu": cpu(plan.cpu_limit_millicores * pods),
                "requests.memory": memory(plan.memory_request_mib * pods),
                "limits.memory": memory(plan.memory_limit_mib * pods),
                "requests.storage": storage(plan.storage_gib),
                "persistentvolumeclaims": "1",
                # A tenant is reached through the shared ingress only, never directly.
                "services.loadbalancers": "0",
                "services.nodeports": "0",
            }
        },
    }


def limit_range(spec: TenantSpec) -> dict:
    plan = spec.plan
    limit = {"cpu": cpu(plan.cpu_limit_millicores), "memory": memory(plan.memory_limit_mib)}
    request = {"cpu": cpu(plan.cpu_request_millicores), "memory": memory(plan.memory_request_mib)}
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": meta(spec, LIMITS),
        "spec": {
            "limits": [
                {"type": "Container", "default": limit, "defaultRequest": request, "max": limit},
                {"type": "PersistentVolumeClaim", "max": {"storage": storage(plan.storage_gib)}},
            ]
        },
    }


def service_account(spec: TenantSpec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": meta(spec, SERVICE_ACCOUNT),
        # WordPress never talks to the Kubernetes API: no token in its pods.
        "automountServiceAccountToken": False,
    }


def portal_subject(name: str) -> dict:
    """The RBAC subject of a Kubernetes user name (a ServiceAccount's has its own form)."""
    parts = name.split(":")
    if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
        return {"kind": "ServiceAccount", "name": parts[3], "namespace": parts[2]}
    return {"kind": "User", "name": name, "apiGroup": "rbac.authorization.k8s.io"}


def portal_access(spec: TenantSpec) -> dict | None:
    """The portal's own rights in this namespace: the tenant ClusterRole, bound here only.

    The portal holds no cluster-wide read of Secrets or workloads; it gets them namespace by
    namespace. It may create this binding because its ClusterRole grants `bind` on that one
    ClusterRole (RBAC refuses a binding to rights one doesn't hold otherwise), and the
    ValidatingAdmissionPolicy in deploy/ keeps it to namespaces labelled as the portal's.
    """
    subject = settings.PORTAL_KUBE_PORTAL_SUBJECT
    if not subject:
        return None
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": meta(spec, PORTAL_ACCESS),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": settings.PORTAL_KUBE_TENANT_ROLE,
        },
        "subjects": [portal_subject(subject)],
    }


def credentials_secret(spec: TenantSpec) -> dict:
    """The Secret's frame only: its data keys are written by KubernetesSecrets, never here."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta(spec, SECRET_NAME),
        "type": "Opaque",
    }


def namespace_manifests(spec: TenantSpec) -> list[dict]:
    access = portal_access(spec)
    return [
        namespace(spec),
        *([access] if access else []),  # before anything else: the rest needs its rights
        resource_quota(spec),
        limit_range(spec),
        service_account(spec),
        credentials_secret(spec),
    ]
