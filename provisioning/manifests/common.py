"""Names, labels and quantities the tenant's manifests share."""

from provisioning.spec import TenantSpec

APP = "wordpress"
# Labels that pick the WordPress pods; fixed for the Deployment's life (its selector is immutable).
COMPONENT_WEB = "web"
COMPONENT_INSTALL = "install"
COMPONENT_UPDATE_DB = "update-db"


def selector(spec: TenantSpec, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": APP,
        "app.kubernetes.io/instance": spec.slug,
        "app.kubernetes.io/component": component,
    }


def labels(spec: TenantSpec, component: str | None = None) -> dict[str, str]:
    if component is None:
        return dict(spec.labels)
    return {**spec.labels, **selector(spec, component)}


def meta(
    spec: TenantSpec, name: str, component: str | None = None, annotations: dict | None = None
) -> dict:
    out = {"name": name, "namespace": spec.namespace, "labels": labels(spec, component)}
    if annotations:
        out["annotations"] = annotations
    return out


def cpu(millicores: int) -> str:
    return f"{millicores}m"


def memory(mib: int) -> str:
    return f"{mib}Mi"


def storage(gib: int) -> str:
    return f"{gib}Gi"
