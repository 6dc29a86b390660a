"""allauth adapters: no self sign-up, users and roles from Authentik's claims, audited failures."""

import logging

import requests
from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.models import SocialLogin
from allauth.socialaccount.providers.base import AuthError
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sites.shortcuts import get_current_site
from django.core.exceptions import ValidationError
from django.shortcuts import render

from portal import accountmail
from portal.auth import endsession, lockout
from portal.auth.claims import user_sync_from_claims
from portal.auth.oidc.views import ID_TOKEN_ATTR, NonceMismatch
from portal.auth.signals import record_failed_sign_in
from portal.ratelimit import RateLimited
from tenants.audit import audit_record
from tenants.models import AuditEvent

logger = logging.getLogger(__name__)

PASSWORD_OFF = "Password sign-in is off here: sign in with Authentik."


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Accounts come from Authentik (or the run command's first administrator), never a form.
        return False

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        # Rendered here, where the request gives the links their host; sent by a worker, so a
        # slow or stopped mail server never holds up the password-reset page.
        request = allauth_context.request
        ctx = {"request": request, "email": email, "current_site": get_current_site(request)}
        ctx.update(context)
        accountmail.queue(self.render_mail(template_prefix, email, ctx))

    def pre_authenticate(self, request, **credentials) -> None:
        name = str(credentials.get("username") or credentials.get("email") or "")[:150]
        try:
            lockout.check(request, name)
        except RateLimited as exc:
            raise ValidationError(exc.message, code="locked_out") from exc
        # With Authentik configured, the portal's password form is refused on the server, not
        # only hidden; superusers keep the Django admin's own login (portal.auth.admin_login).
        if settings.PORTAL_OIDC_ENABLED:
            why = "Password sign-in tried while Authentik sign-in is configured."
            record_failed_sign_in(request, name, why)
            raise ValidationError(PASSWORD_OFF)
        super().pre_authenticate(request, **credentials)

    def post_login(self, request, user, *, signal_kwargs=None, signup=False, **kwargs):
        sociallogin = (signal_kwargs or {}).get("sociallogin")
        if isinstance(sociallogin, SocialLogin):
            provider = sociallogin.account.get_provider()
            # Every sign-in recomputes the role, so a group removed in Authentik takes effect.
            user_sync_from_claims(
                user=user,
                extra_data=sociallogin.account.extra_data,
                source=provider.name,
                new=signup,
            )
            endsession.remember(request, provider, id_token=getattr(sociallogin, ID_TOKEN_ATTR, ""))
        return super().post_login(
            request, user, signal_kwargs=signal_kwargs, signup=signup, **kwargs
        )

    def get_logout_redirect_url(self, request) -> str:
        return endsession.url(request) or super().get_logout_redirect_url(request)


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        return settings.PORTAL_OIDC_ENABLED

    def populate_user(self, request, sociallogin, data):
        user = super().populate_user(request, sociallogin, data)
        # A preferred_username someone else has (the local admin, say) gets a generated one:
        # a new Authentik account never takes over an existing portal account by name.
        username = user.username
        if username and get_user_model().objects.filter(username__iexact=username).exists():
            user.username = ""
        return user

    def on_authentication_error(
        self, request, provider, error=None, exception=None, extra_context=None
    ) -> None:
        reason = _failure_reason(error, exception, extra_context or {})
        logger.warning("Sign-in through %s failed: %s", provider.name, reason)
        audit_record(
            action=AuditEvent.Action.USER_LOGIN_FAILED,
            actor_name="unknown",
            message=f"Sign-in through {provider.name} failed: {reason}",
        )
        if error == AuthError.CANCELLED:
            return
        page = render(
            request,
            "socialaccount/authentication_error.html",
            {"provider_name": provider.name, "request_id": getattr(request, "id", "")},
            status=400,
        )
        raise ImmediateHttpResponse(page)


def _failure_reason(error, exception, extra_context: dict) -> str:
    """Words for the audit trail; never the provider's response body, which may carry tokens."""
    if exception is None:
        if "state_id" in extra_context:
            return "the sign-in state was unknown, expired or tampered with."
        return f"the provider answered with an error ({error or 'unknown'})."
    if isinstance(exception, NonceMismatch):
        return str(exception)
    if isinstance(exception, OAuth2Error) and exception.__cause__ is not None:
        return f"the ID token was refused ({str(exception.__cause__)[:120]})."
    if isinstance(exception, requests.RequestException):
        return f"the provider could not be reached ({type(exception).__name__})."
    return f"{type(exception).__name__}."
