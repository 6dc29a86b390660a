"""Strict validation of the portal's manifests against a pinned Kubernetes version's schema."""

import re
from functools import cache

import jsonschema
import jsonschema_rs
from jsonschema.protocols import Validator
from kubernetes_validate import utils as schemas
from referencing import Registry, Resource

from provisioning.errors import StepFailed

# The Kubernetes version whose OpenAPI schema every manifest must satisfy (IONOS MKS offers it).
KUBERNETES_VERSION = "1.32.0"
# kubernetes-validate's strict schema files of that version (its validate() reads and parses
# the kind's file and the 3 MB of definitions on every call: a quarter of the engine's time).
_SCHEMA_DIR = f"kubernetes-json-schema/v{KUBERNETES_VERSION}-local-strict"


class ManifestInvalid(StepFailed):
    """A manifest the portal built doesn't fit the schema: a bug in the portal, not the input."""


@cache
def _definitions() -> Resource:
    return Resource.from_contents(
        schemas.schema_contents(f"{_SCHEMA_DIR}/_definitions.json", KUBERNETES_VERSION)
    )


@cache
def _schema(kind: str, api_version: str) -> dict | None:
    """The kind's schema (None: the version has no such kind)."""
    # rbac.authorization.k8s.io/v1 -> rbac-v1, as kubernetes-validate names its files.
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        return schemas.schema_contents(
            f"{_SCHEMA_DIR}/{kind.lower()}-{group}.json", KUBERNETES_VERSION
        )
    except FileNotFoundError:
        return None


@cache
def validator_for(kind: str, api_version: str) -> Validator | None:
    """The kind's jsonschema validator, built once per process (None: no such kind), whose
    errors say which keyword failed and where in the schema (the fake API server's use)."""
    if (schema := _schema(kind, api_version)) is None:
        return None
    registry = _definitions() @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


@cache
def _fast_validator_for(kind: str, api_version: str) -> jsonschema_rs.Validator | None:
    """The same schema compiled by jsonschema-rs, for the engine: 17 manifests a tenant took
    19 ms of CPU with jsonschema, 0.12 ms with it (measured, bench manifests)."""
    if (schema := _schema(kind, api_version)) is None:
        return None
    definitions = _definitions().contents
    registry = jsonschema_rs.Registry([(definitions["$id"], definitions)])
    return jsonschema_rs.Draft202012Validator(schema, registry=registry)


def validate(manifest: dict) -> None:
    """Raise ManifestInvalid naming the object and the field when the manifest is not valid.

    Strict: a field the schema doesn't know is an error, as server-side apply makes it.
    """
    what = f"{manifest.get('kind')} {manifest.get('metadata', {}).get('name')}"
    kind, api_version = str(manifest.get("kind", "")), str(manifest.get("apiVersion", ""))
    validator = _fast_validator_for(kind, api_version)
    if validator is None:
        raise ManifestInvalid(
            f"{what}: no schema for kind {manifest.get('kind')} with api version "
            f"{manifest.get('apiVersion')} in Kubernetes {KUBERNETES_VERSION}"
        )
    try:
        validator.validate(manifest)
    except jsonschema_rs.ValidationError as exc:
        where = ".".join(str(part) for part in exc.instance_path) or "(top)"
        raise ManifestInvalid(
            f"{what} doesn't fit the Kubernetes {KUBERNETES_VERSION} schema at {where}: "
            f"{exc.message}"
        ) from exc


def validate_all(manifests: list[dict]) -> None:
    for manifest in manifests:
        validate(manifest)
