"""allauth's openid_connect URLs (same names and paths), with the nonce-checking callback."""

from allauth.socialaccount import app_settings
from allauth.socialaccount.providers.openid_connect import views as allauth_views
from django.urls import include, path, re_path

from portal.auth.oidc import views

# The login view needs no change: it asks the provider (ours, from the registry) to redirect.
urlpatterns = [
    re_path(
        r"^(?P<provider_id>[^/]+)/",
        include(
            [
                path("login/", allauth_views.login, name="openid_connect_login"),
                path("login/callback/", views.callback, name="openid_connect_callback"),
            ]
        ),
    )
]

if app_settings.OPENID_CONNECT_URL_PREFIX:
    urlpatterns = [path(f"{app_settings.OPENID_CONNECT_URL_PREFIX}/", include(urlpatterns))]
