"""allauth's provider settings for Authentik, built from plain values (settings and tests)."""

from urllib.parse import urlsplit


def oidc_providers(*, server_url: str, client_id: str, secret: str, token_auth_method: str) -> dict:
    """SOCIALACCOUNT_PROVIDERS with one openid_connect app "Authentik", or none when unset."""
    app = {
        "provider_id": "authentik",
        "name": "Authentik",
        "client_id": client_id,
        "secret": secret,
        "settings": {
            # allauth appends /.well-known/openid-configuration: no trailing slash here.
            "server_url": server_url.rstrip("/"),
            # Must match how the client is registered at the provider.
            "token_auth_method": token_auth_method,
            "oauth_pkce_enabled": True,
            # Authentik's profile scope carries the groups claim; there is no groups scope.
            "scope": ["openid", "profile", "email"],
        },
    }
    apps = [app] if server_url and client_id else []
    return {"openid_connect": {"OAUTH_PKCE_ENABLED": True, "APPS": apps}}


def url_origin(url: str) -> str:
    """scheme://host[:port] of a URL, "" for none: where the browser is sent to sign in."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""
