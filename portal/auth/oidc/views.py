"""The callback side: the ID token must carry back the nonce stashed when the sign-in began."""

import hmac

from allauth.account.internal.decorators import login_not_required
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.http import Http404

# Attribute of the SocialLogin holding the raw ID token until it goes into the session.
ID_TOKEN_ATTR = "portal_raw_id_token"


class NonceMismatch(OAuth2Error):
    """The ID token's nonce is missing or not the one this browser's sign-in sent."""


class NonceCheckingAdapter(OpenIDConnectOAuth2Adapter):
    # Set by NonceCheckingCallbackView from the unstashed state; None refuses every ID token.
    expected_nonce: str | None = None

    def complete_login(self, request, app, token, **kwargs):
        login = super().complete_login(request, app, token, **kwargs)
        claims = login.account.extra_data.get("id_token") or {}
        nonce = claims.get("nonce")
        expected = self.expected_nonce
        # Checked before allauth looks up or updates any account with these claims.
        if not (isinstance(nonce, str) and expected and hmac.compare_digest(nonce, expected)):
            raise NonceMismatch(
                "the ID token carried no nonce."
                if nonce is None
                else "the ID token's nonce did not match this sign-in."
            )
        # Kept on the object only (never extra_data): AccountAdapter.post_login moves it into
        # the session as id_token_hint for the sign-out.
        setattr(login, ID_TOKEN_ATTR, kwargs["response"]["id_token"])
        return login


class NonceCheckingCallbackView(OAuth2CallbackView):
    def _get_state(self, request, provider):
        state, response = super()._get_state(request, provider)
        # allauth gives the adapter's complete_login no state; hand it the stashed nonce.
        # Should allauth stop calling this, expected_nonce stays None and sign-in fails closed.
        self.adapter.expected_nonce = (state or {}).get("nonce")
        return state, response


@login_not_required
def callback(request, provider_id):
    try:
        view = NonceCheckingCallbackView.adapter_view(NonceCheckingAdapter(request, provider_id))
        return view(request)
    except SocialApp.DoesNotExist as exc:
        raise Http404 from exc
