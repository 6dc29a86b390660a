"""The audit trail names each API token: created, revoked, presented after it stopped working."""

from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiToken
from api.tokens import token_create, token_revoke
from tenants.audit import audit_verify
from tenants.models import AuditEvent

Action = AuditEvent.Action


def _call(plain: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    return client.get("/api/v1/tenants/", HTTP_X_REQUEST_ID="script-call-0001")


def _events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_creating_and_revoking_a_token_are_audited_by_name(requester):
    row, plain = token_create(user=requester, name="ci-deploy", days=30)
    token_revoke(user=requester, token_id=row.pk)
    token_revoke(user=requester, token_id=row.pk)  # again: nothing new happens

    (created,) = _events(Action.TOKEN_CREATED)
    (revoked,) = _events(Action.TOKEN_REVOKED)
    for event in (created, revoked):
        assert event.actor == requester and event.object_id == str(row.pk)
        assert "ci-deploy" in event.message
    assert created.after["name"] == "ci-deploy"
    # Not even the start of the token itself is kept in the trail.
    every = " ".join(str(v) for e in AuditEvent.objects.values_list() for v in e)
    assert plain[4:] not in every and row.prefix not in every
    assert audit_verify()[1] is None


def test_a_revoked_token_presented_again_is_audited_once_an_hour(requester):
    row, plain = token_create(user=requester, name="old-ci", days=30)
    token_revoke(user=requester, token_id=row.pk)

    assert _call(plain).status_code == 401
    assert _call(plain).status_code == 401

    (refused,) = _events(Action.TOKEN_REFUSED)
    assert refused.actor is None
    assert refused.actor_name == f"API token “old-ci” of {requester.username}"
    assert refused.message == "A call with API token “old-ci” was refused: it was revoked."
    assert refused.request_id == "script-call-0001" and refused.ip == "127.0.0.1"


def test_an_expired_token_presented_is_audited(requester):
    row, plain = token_create(user=requester, name="stale", days=1)
    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert _call(plain).status_code == 401

    (refused,) = _events(Action.TOKEN_REFUSED)
    assert refused.message.endswith("it has expired.")


def test_an_unknown_token_writes_nothing(db):
    assert _call("ptk_made-up-token-that-matches-nothing").status_code == 401
    assert not AuditEvent.objects.exists()
