"""Where sign-out sends the browser: the provider's end-session endpoint, learnt at sign-in."""

import logging
from urllib.parse import urlencode

import requests
from django.urls import reverse

logger = logging.getLogger(__name__)

# Session key holding the end-session endpoint, client id and the raw ID token of the provider
# the user came from. The session is the only place the raw token is kept: it ends at sign-out.
SESSION_KEY = "portal_oidc_end_session"


def remember(request, provider, *, id_token: str = "") -> None:
    """Keep the provider's end_session_endpoint and this sign-in's ID token in the session."""
    try:
        endpoint = provider.get_oauth2_adapter(request).openid_config.get("end_session_endpoint")
    except (requests.RequestException, ValueError) as exc:
        # Sign-in worked; only the single sign-out would be lost, so don't fail it for that.
        logger.warning("No end-session endpoint from %s: %s", provider.name, exc)
        return
    if endpoint:
        request.session[SESSION_KEY] = {
            "endpoint": endpoint,
            "client_id": provider.app.client_id,
            "id_token": id_token,
        }


def url(request) -> str | None:
    """The end-session URL for this session's sign-out, or None after a local sign-in."""
    stored = request.session.get(SESSION_KEY)
    if not stored:
        return None
    # id_token_hint tells the provider whose session ends and proves the request comes from
    # this sign-in; client_id alongside it is allowed by RP-Initiated Logout and names us even
    # when the hint is missing (a session from before the hint was kept).
    params = {
        "client_id": stored["client_id"],
        "post_logout_redirect_uri": request.build_absolute_uri(reverse("account_login")),
    }
    if stored.get("id_token"):
        params["id_token_hint"] = stored["id_token"]
    separator = "&" if "?" in stored["endpoint"] else "?"
    return f"{stored['endpoint']}{separator}{urlencode(params)}"
