"""App config of the portal project itself (templates, static files, commands)."""

from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "Portal"

    def ready(self) -> None:
        from portal import (
            celerychecks,  # noqa: F401  (registers the eager-mode check)
            checks,  # noqa: F401  (registers the shared cache's checks)
            settingchecks,  # noqa: F401  (registers the number settings' check)
            staffsync,  # noqa: F401  (keeps is_staff equal to the role)
        )
        from portal.auth import signals  # noqa: F401  (connects the sign-in audit receivers)
