"""Fixtures of the API tests: a client that presents a personal API token."""

import pytest
from rest_framework.test import APIClient

from api.tokens import token_create
from tests.portal.test_url_roles import people  # noqa: F401  (the users in each role, by name)


@pytest.fixture
def api_for():
    """An API client carrying a fresh token of the given user (None: no credentials)."""

    plain_tokens = {}

    def make(user=None):
        client = APIClient()
        if user is not None:
            if user.pk not in plain_tokens:
                _, plain_tokens[user.pk] = token_create(
                    user=user, name=f"test-{user.username}", days=1
                )
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain_tokens[user.pk]}")
        return client

    return make
