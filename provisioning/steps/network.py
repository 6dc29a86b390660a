"""The network step (first cut: plan mode only; the live driver comes with its issue)."""

import json

from provisioning.steps.base import Step


class NetworkStep(Step):
    """Owns the tenant's Network resources."""

    name = "network"
    title = "Network"
    plan_suffix = "json"

    def render(self) -> str:
        return json.dumps({"step": self.name, "tenant": self.spec.slug}, indent=2) + "\n"
