"""Personal API tokens: stored hashed, last use recorded, revoked or expired ones get 401."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiToken
from api.tokens import token_create, token_revoke


def _client(plain: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    return client


def test_the_database_holds_only_the_digest(requester):
    row, plain = token_create(user=requester, name="ci", days=30)

    assert plain.startswith("ptk_") and len(plain) > 40
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM api_apitoken")
        stored = " ".join(str(v) for v in cursor.fetchone())
    assert plain not in stored and plain[len(row.prefix) :] not in stored
    assert row.prefix == plain[:10]


def test_a_call_records_the_tokens_last_use(requester):
    row, plain = token_create(user=requester, name="ci", days=30)

    assert _client(plain).get("/api/v1/tenants/").status_code == 200

    row.refresh_from_db()
    assert row.last_used_at is not None and row.last_used_ip == "127.0.0.1"


def test_a_revoked_token_gets_401(requester):
    row, plain = token_create(user=requester, name="ci", days=30)
    token_revoke(user=requester, token_id=row.pk)

    response = _client(plain).get("/api/v1/tenants/")

    assert response.status_code == 401
    assert response.json() == {"detail": "This token was revoked."}
    assert response["WWW-Authenticate"] == "Bearer"


def test_an_expired_token_gets_401(requester):
    row, plain = token_create(user=requester, name="ci", days=30)
    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = _client(plain).get("/api/v1/tenants/")

    assert response.status_code == 401
    assert response.json() == {"detail": "This token has expired."}


@pytest.mark.parametrize("header", ["Bearer ptk_nothing", "Bearer", "Bearer a b", "Bearer xyz"])
def test_a_made_up_token_gets_401(db, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)

    assert client.get("/api/v1/tenants/").status_code == 401


def test_a_disabled_users_token_gets_401(requester):
    _, plain = token_create(user=requester, name="ci", days=30)
    requester.is_active = False
    requester.save()

    assert _client(plain).get("/api/v1/tenants/").status_code == 401


def test_one_user_cannot_revoke_anothers_token(requester, other_requester):
    row, plain = token_create(user=requester, name="ci", days=30)

    from portal.errors import ApplicationError

    with pytest.raises(ApplicationError):
        token_revoke(user=other_requester, token_id=row.pk)
    assert _client(plain).get("/api/v1/tenants/").status_code == 200


@pytest.mark.parametrize(
    ("name", "days", "field"), [("", 30, "name"), ("ci", 0, "days"), ("ci", 9999, "days")]
)
def test_a_token_needs_a_name_and_a_sane_life(requester, name, days, field):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        token_create(user=requester, name=name, days=days)
    assert field in caught.value.message_dict
