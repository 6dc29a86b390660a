"""The Django admin's own login form: locked out after failures; with Authentik, superusers only."""

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from portal.auth import lockout
from portal.auth.signals import record_failed_sign_in
from portal.ratelimit import RateLimited

SUPERUSERS_ONLY = (
    "Password sign-in here is for superusers only. Sign in with Authentik on the portal's "
    "sign-in page; staff then reach the admin from there."
)


class AdminLoginForm(AdminAuthenticationForm):
    def clean(self):
        # Before the password is checked: a locked-out name or address gets no answer to it.
        try:
            lockout.check(self.request, self.cleaned_data.get("username") or "")
        except RateLimited as exc:
            raise ValidationError(exc.message, code="locked_out") from exc
        return super().clean()

    def confirm_login_allowed(self, user):
        if settings.PORTAL_OIDC_ENABLED and not user.is_superuser:
            why = "Admin password sign-in refused: not a superuser."
            record_failed_sign_in(self.request, user.get_username(), why)
            raise ValidationError(SUPERUSERS_ONLY, code="superusers_only")
        super().confirm_login_allowed(user)
