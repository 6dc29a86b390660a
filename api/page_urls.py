"""URLs of the profile page of personal API tokens."""

from django.urls import path

from api import pages

app_name = "api_tokens"

urlpatterns = [
    path("", pages.ApiTokenListView.as_view(), name="list"),
    path("<int:pk>/revoke/", pages.ApiTokenRevokeView.as_view(), name="revoke"),
]
