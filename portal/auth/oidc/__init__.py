"""allauth's openid_connect provider with a nonce in every sign-in, checked in the ID token."""
