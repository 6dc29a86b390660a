"""The namespace step (first cut: plan mode only; the live driver comes with its issue)."""

import json

from provisioning.steps.base import Step


class NamespaceStep(Step):
    """Owns the tenant's Namespace,quota,limits resources."""

    name = "namespace"
    title = "Namespace,quota,limits"
    plan_suffix = "json"

    def render(self) -> str:
        return json.dumps({"step": self.name, "tenant": self.spec.slug}, indent=2) + "\n"
