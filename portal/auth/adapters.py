"""allauth adapters: no self sign-up, users and roles from Authentik's claims."""

from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.conf import settings

from portal import roles


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Accounts come from Authentik (or the run command's first administrator), never a form.
        return False


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        return settings.PORTAL_OIDC_ENABLED

    def populate_user(self, request, sociallogin, data):
        user = super().populate_user(request, sociallogin, data)
        claims = sociallogin.account.extra_data or {}
        username = claims.get("preferred_username") or data.get("username")
        if username:
            user.username = username[:150]
        return user

    def pre_social_login(self, request, sociallogin):
        super().pre_social_login(request, sociallogin)
        request._portal_groups = _groups(sociallogin)

    def save_user(self, request, sociallogin, form=None):
        user = super().save_user(request, sociallogin, form)
        return user


def _groups(sociallogin) -> list[str]:
    data = sociallogin.account.extra_data or {}
    userinfo = data.get("userinfo") or {}
    id_token = data.get("id_token") or {}
    for source in (data, userinfo, id_token):
        groups = source.get("groups") if isinstance(source, dict) else None
        if isinstance(groups, list):
            return [str(g) for g in groups]
    return []


def apply_role_from_claims(user, groups: list[str]) -> roles.Role:
    role = roles.role_from_claims(groups)
    roles.user_set_role(user=user, role=role)
    return role
