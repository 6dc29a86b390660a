"""Strict validation of the portal's manifests against a pinned Kubernetes version's schema."""

import kubernetes_validate

from provisioning.errors import StepFailed

# The Kubernetes version whose OpenAPI schema every manifest must satisfy (IONOS MKS offers it).
KUBERNETES_VERSION = "1.32.0"


class ManifestInvalid(StepFailed):
    """A manifest the portal built doesn't fit the schema: a bug in the portal, not the input."""


def validate(manifest: dict) -> None:
    """Raise ManifestInvalid naming the object and the field when the manifest is not valid.

    Strict: a field the schema doesn't know is an error, as server-side apply makes it.
    """
    what = f"{manifest.get('kind')} {manifest.get('metadata', {}).get('name')}"
    try:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(str(part) for part in exc.absolute_path) or "(top)"
        raise ManifestInvalid(
            f"{what} doesn't fit the Kubernetes {KUBERNETES_VERSION} schema at {where}: "
            f"{exc.message}"
        ) from exc
    except kubernetes_validate.SchemaNotFoundError as exc:
        raise ManifestInvalid(f"{what}: {exc.message}") from exc


def validate_all(manifests: list[dict]) -> None:
    for manifest in manifests:
        validate(manifest)
