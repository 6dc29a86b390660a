"""The profile page of API tokens: a new token is shown once, works, and stops when revoked."""

import re

from django.urls import reverse
from rest_framework.test import APIClient

from api.models import ApiToken


def _api(plain: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    return client.get("/api/v1/tenants/")


def test_a_new_token_is_shown_once_and_works(client_for, requester):
    client = client_for(requester)

    response = client.post(reverse("api_tokens:list"), {"name": "ci", "days": 30})

    assert response.status_code == 200
    # Never kept by a cache: the page shows the token once (the portal adds "private" too).
    assert "no-store" in {d.strip() for d in response["Cache-Control"].split(",")}
    plain = re.search(r'value="(ptk_[^"]+)"', response.content.decode()).group(1)
    assert _api(plain).status_code == 200
    again = client.get(reverse("api_tokens:list")).content.decode()
    assert plain not in again and "ci" in again and plain[:10] in again


def test_a_revoked_token_stops_working(client_for, requester):
    client = client_for(requester)
    page = client.post(reverse("api_tokens:list"), {"name": "ci", "days": 30}).content.decode()
    plain = re.search(r'value="(ptk_[^"]+)"', page).group(1)
    token = ApiToken.objects.get(user=requester, name="ci")

    response = client.post(reverse("api_tokens:revoke", args=[token.pk]), follow=True)

    assert "The token ci was revoked; it no longer works." in response.content.decode()
    assert _api(plain).status_code == 401
    assert "Revoked" in response.content.decode()


def test_someone_elses_token_cannot_be_revoked(client_for, requester, other_requester):
    page = client_for(requester).post(reverse("api_tokens:list"), {"name": "ci", "days": 30})
    plain = re.search(r'value="(ptk_[^"]+)"', page.content.decode()).group(1)
    token = ApiToken.objects.get(user=requester)

    client = client_for(other_requester)
    response = client.post(reverse("api_tokens:revoke", args=[token.pk]), follow=True)

    assert "That token does not exist." in response.content.decode()
    assert _api(plain).status_code == 200


def test_bad_input_comes_back_with_the_reason(client_for, requester, settings):
    settings.PORTAL_API_TOKEN_MAX_DAYS = 30
    client = client_for(requester)

    response = client.post(reverse("api_tokens:list"), {"name": "ci", "days": 31})

    assert response.status_code == 400
    page = response.content.decode()
    assert "A token lives between 1 and 30 days." in page
    assert 'value="ci"' in page  # what was typed is kept
    assert not ApiToken.objects.exists()


def test_a_second_token_of_the_same_name_is_refused(client_for, requester):
    client = client_for(requester)
    client.post(reverse("api_tokens:list"), {"name": "ci", "days": 30})

    response = client.post(reverse("api_tokens:list"), {"name": "ci", "days": 30})

    assert response.status_code == 400
    assert "You already have a token of that name." in response.content.decode()
