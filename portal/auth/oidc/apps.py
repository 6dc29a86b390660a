"""App config of the nonce-checking OpenID Connect provider (allauth finds provider.py here)."""

from django.apps import AppConfig


class OidcConfig(AppConfig):
    name = "portal.auth.oidc"
    # Not "openid_connect": that label stays allauth's, should its app ever be installed too.
    label = "portal_oidc"
    verbose_name = "Sign-in through OpenID Connect"
