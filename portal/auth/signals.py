"""Sign-ins, failed sign-ins (boundedly) and sign-outs go into the audit trail."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from portal.auth import lockout
from portal.ratelimit import wait_words
from tenants.audit import audit_record
from tenants.models import AuditEvent


@receiver(user_logged_in, dispatch_uid="portal-audit-login")
def _logged_in(sender, request, user, **kwargs):
    lockout.succeeded(user.get_username())
    audit_record(action=AuditEvent.Action.USER_LOGIN, actor=user, obj=user)


@receiver(user_logged_out, dispatch_uid="portal-audit-logout")
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(action=AuditEvent.Action.USER_LOGOUT, actor=user, obj=user)


@receiver(user_login_failed, dispatch_uid="portal-audit-login-failed")
def _login_failed(sender, credentials, request=None, **kwargs):
    # Only the name tried; the password Django already masks, and we don't keep it either.
    name = str(credentials.get("username") or credentials.get("login") or "")[:150]
    record_failed_sign_in(request, name, "Wrong user name or password.")


def record_failed_sign_in(request, name: str, why: str) -> None:
    """Counts the failure towards a lock-out; audits the first failure of a name in a window
    and each lock-out, so guessing can't grow the append-only trail without bound."""
    failure = lockout.failed(request, name)
    if failure.first_in_window:
        audit_record(
            action=AuditEvent.Action.USER_LOGIN_FAILED,
            actor_name=name or "unknown",
            message=f"{why} Further failures count towards a lock-out.",
        )
    for kind, seconds in failure.locked:
        audit_record(
            action=AuditEvent.Action.USER_LOGIN_FAILED,
            actor_name=name or "unknown",
            message=f"Locked out: too many failed sign-ins for this {kind}; sign-in refused "
            f"for {wait_words(seconds)}.",
        )
