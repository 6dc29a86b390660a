"""The Django admin's own login form: with Authentik configured, only for superusers."""

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from tenants.audit import audit_record
from tenants.models import AuditEvent

SUPERUSERS_ONLY = (
    "Password sign-in here is for superusers only. Sign in with Authentik on the portal's "
    "sign-in page; staff then reach the admin from there."
)


class AdminLoginForm(AdminAuthenticationForm):
    def confirm_login_allowed(self, user):
        if settings.PORTAL_OIDC_ENABLED and not user.is_superuser:
            audit_record(
                action=AuditEvent.Action.USER_LOGIN_FAILED,
                actor_name=user.get_username(),
                message="Admin password sign-in refused: not a superuser.",
            )
            raise ValidationError(SUPERUSERS_ONLY, code="superusers_only")
        super().confirm_login_allowed(user)
