"""Sign-ins, failed sign-ins and sign-outs go into the audit trail."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from tenants.audit import audit_record
from tenants.models import AuditEvent


@receiver(user_logged_in, dispatch_uid="portal-audit-login")
def _logged_in(sender, request, user, **kwargs):
    audit_record(action=AuditEvent.Action.USER_LOGIN, actor=user, obj=user)


@receiver(user_logged_out, dispatch_uid="portal-audit-logout")
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(action=AuditEvent.Action.USER_LOGOUT, actor=user, obj=user)


@receiver(user_login_failed, dispatch_uid="portal-audit-login-failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    # Only the name tried; the password Django already masks, and we don't keep it either.
    name = str(credentials.get("username") or credentials.get("login") or "")[:150]
    audit_record(
        action=AuditEvent.Action.USER_LOGIN_FAILED,
        actor_name=name or "unknown",
        message="Wrong user name or password.",
    )
