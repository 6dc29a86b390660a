"""DRF authentication by personal API token: `Authorization: Bearer ptk_...`."""

from dataclasses import replace

from rest_framework import authentication, exceptions

from api import tokens
from portal import requestcontext


class ApiTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").split()
        if not header or header[0].lower() != self.keyword.lower():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Send the token as: Authorization: Bearer <token>."
            )
        token = tokens.token_lookup(header[1])
        if token is None:
            raise exceptions.AuthenticationFailed("This token is not valid.")
        if token.revoked_at is not None:
            tokens.token_refused(token=token, why="was revoked")
            raise exceptions.AuthenticationFailed("This token was revoked.")
        if not token.is_active:
            tokens.token_refused(token=token, why="has expired")
            raise exceptions.AuthenticationFailed("This token has expired.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token's user is disabled.")
        ctx = requestcontext.current()
        tokens.token_touch(token=token, ip=ctx.ip)
        # The audit names the token an action came through (tenants.audit reads `via`); the
        # middleware's reset at the end of the request drops it again.
        requestcontext.bind(
            replace(ctx, via=f"API token “{token.name}”", user=token.user.get_username())
        )
        return token.user, token

    def authenticate_header(self, request):
        # Makes DRF answer 401 (not 403) to a call without credentials.
        return self.keyword
