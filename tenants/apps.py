"""App config of tenants, plans and the audit trail."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        from tenants.roles_setup import ensure_role_groups

        post_migrate.connect(ensure_role_groups, dispatch_uid="tenants-role-groups")
