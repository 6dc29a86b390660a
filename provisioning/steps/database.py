"""The database step (first cut: plan mode only; the live driver comes with its issue)."""

import json

from provisioning.steps.base import Step


class DatabaseStep(Step):
    """Owns the tenant's MariaDB resources."""

    name = "database"
    title = "MariaDB"
    plan_suffix = "json"

    def render(self) -> str:
        return json.dumps({"step": self.name, "tenant": self.spec.slug}, indent=2) + "\n"
