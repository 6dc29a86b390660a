"""Where sign-out sends the browser: the provider's end-session endpoint, learnt at sign-in."""

import logging
from urllib.parse import urlencode

import requests
from django.urls import reverse

logger = logging.getLogger(__name__)

# Session key holding the end-session endpoint and client id of the provider the user came from.
SESSION_KEY = "portal_oidc_end_session"


def remember(request, provider) -> None:
    """Keep the provider's end_session_endpoint (from its discovery document) in the session."""
    try:
        endpoint = provider.get_oauth2_adapter(request).openid_config.get("end_session_endpoint")
    except (requests.RequestException, ValueError) as exc:
        # Sign-in worked; only the single sign-out would be lost, so don't fail it for that.
        logger.warning("No end-session endpoint from %s: %s", provider.name, exc)
        return
    if endpoint:
        request.session[SESSION_KEY] = {"endpoint": endpoint, "client_id": provider.app.client_id}


def url(request) -> str | None:
    """The end-session URL for this session's sign-out, or None after a local sign-in."""
    stored = request.session.get(SESSION_KEY)
    if not stored:
        return None
    # The ID token is not kept (SOCIALACCOUNT_STORE_TOKENS is off), so the client id names us,
    # as OpenID Connect RP-Initiated Logout allows in place of id_token_hint.
    params = {
        "client_id": stored["client_id"],
        "post_logout_redirect_uri": request.build_absolute_uri(reverse("account_login")),
    }
    separator = "&" if "?" in stored["endpoint"] else "?"
    return f"{stored['endpoint']}{separator}{urlencode(params)}"
