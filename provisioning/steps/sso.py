"""The sso step (first cut: plan mode only; the live driver comes with its issue)."""

import json

from provisioning.steps.base import Step


class SsoStep(Step):
    """Owns the tenant's Authentik resources."""

    name = "sso"
    title = "Authentik"
    plan_suffix = "json"

    def render(self) -> str:
        return json.dumps({"step": self.name, "tenant": self.spec.slug}, indent=2) + "\n"
