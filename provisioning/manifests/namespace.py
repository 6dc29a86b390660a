"""The tenant's Namespace, its quota and limits, WordPress's ServiceAccount and the Secret."""

from provisioning.manifests.common import cpu, labels, memory, meta, storage
from provisioning.schema import KUBERNETES_VERSION
from provisioning.secrets import SECRET_NAME
from provisioning.spec import TenantSpec

SERVICE_ACCOUNT = "wordpress"
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


def credentials_secret(spec: TenantSpec) -> dict:
    """The Secret's frame only: its data keys are written by KubernetesSecrets, never here."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta(spec, SECRET_NAME),
        "type": "Opaque",
    }


def namespace_manifests(spec: TenantSpec) -> list[dict]:
    return [
        namespace(spec),
        resource_quota(spec),
        limit_range(spec),
        service_account(spec),
        credentials_secret(spec),
    ]
