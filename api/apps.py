"""The REST API app: personal API tokens, the /api/v1/ endpoints, outgoing webhooks."""

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "api"
    verbose_name = "REST API"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_save

        from api import schema  # noqa: F401  (registers the schema extension)
        from api.webhooks.events import on_audit_event
        from tenants.models import AuditEvent

        # Every tenant event passes through the audit trail: that is where webhooks hear it.
        post_save.connect(on_audit_event, sender=AuditEvent, dispatch_uid="api-webhooks")
