"""The storage step (first cut: plan mode only; the live driver comes with its issue)."""

import json

from provisioning.steps.base import Step


class StorageStep(Step):
    """Owns the tenant's S3 resources."""

    name = "storage"
    title = "S3"
    plan_suffix = "json"

    def render(self) -> str:
        return json.dumps({"step": self.name, "tenant": self.spec.slug}, indent=2) + "\n"
