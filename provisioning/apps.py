"""App config of the provisioning engine."""

from django.apps import AppConfig


class ProvisioningConfig(AppConfig):
    name = "provisioning"
    verbose_name = "Provisioning"

    def ready(self) -> None:
        from provisioning import checks  # noqa: F401  (registers the settings checks)
