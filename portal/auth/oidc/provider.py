"""The openid_connect provider, sending a fresh random nonce with each authorization request."""

import secrets

from allauth.socialaccount.providers.openid_connect.provider import OpenIDConnectProvider

from portal.auth.oidc.views import NonceCheckingAdapter


class NonceOpenIDConnectProvider(OpenIDConnectProvider):
    # Same id as allauth's, so SOCIALACCOUNT_PROVIDERS["openid_connect"] and the URLs stay.
    id = "openid_connect"
    oauth2_adapter_class = NonceCheckingAdapter
    # An ID token handed in directly (allauth's headless API) has no sign-in nonce to check.
    supports_token_authentication = False

    def redirect(self, request, process, next_url=None, data=None, **kwargs):
        auth_params = kwargs.pop("auth_params", None)
        if auth_params is None:
            auth_params = self.get_auth_params()
        nonce = secrets.token_urlsafe(32)
        # Set last, so an auth_params query parameter can never choose the nonce.
        auth_params = {**auth_params, "nonce": nonce}
        # allauth keeps the extra keyword arguments in the sign-in state in the session, which
        # the callback gets back only with the matching state parameter.
        return super().redirect(
            request, process, next_url, data, auth_params=auth_params, nonce=nonce, **kwargs
        )


provider_classes = [NonceOpenIDConnectProvider]
