"""Drivers, one per outside system; a system with no target configured runs in plan mode."""

from django.conf import settings

from provisioning.secrets import PlanSecrets, SecretStore
from provisioning.spec import TenantSpec


def configured_systems() -> dict[str, bool]:
    """Which outside systems have a real target; the others run in plan mode."""
    return {
        "Kubernetes": bool(
            settings.PORTAL_KUBECONFIG
            or settings.PORTAL_KUBE_IN_CLUSTER
            or (settings.PORTAL_IONOS_TOKEN and settings.PORTAL_IONOS_CLUSTER_ID)
        ),
        "MariaDB": bool(settings.PORTAL_MARIADB_URL),
        "Authentik": bool(settings.PORTAL_AUTHENTIK_URL and settings.PORTAL_AUTHENTIK_TOKEN),
        "S3": bool(settings.PORTAL_S3_ENDPOINT_URL),
    }


def planned_systems() -> list[str]:
    return [name for name, real in configured_systems().items() if not real]


def secret_store(spec: TenantSpec) -> SecretStore:
    """The tenant's credential store: its Kubernetes Secret, or plan mode's placeholder."""
    if not configured_systems()["Kubernetes"]:
        return PlanSecrets()
    from provisioning.drivers.kubernetes import KubernetesSecrets

    return KubernetesSecrets(spec)
