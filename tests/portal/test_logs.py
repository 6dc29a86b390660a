"""Logs: one JSON object per line with the request's id and user; credentials never in a line."""

import io
import json
import logging

import pytest
from django.urls import reverse

from portal.logs import mask_secrets
from tenants.models import AuditEvent
from tests.factories import TenantFactory


@pytest.fixture
def log_lines():
    """What the configured console handler writes (settings.LOGGING), as parsed lines."""
    handler = next(h for h in logging.getLogger("portal").handlers if h.name == "console")
    stream = io.StringIO()
    old = handler.setStream(stream)
    own = [logging.getLogger(name) for name in ("portal", "tenants", "provisioning", "api")]
    levels = [lg.level for lg in own]
    for logger in own:
        logger.setLevel(logging.DEBUG)

    def read() -> list[dict]:
        text = stream.getvalue()
        # Every line is a whole JSON object: a traceback included, it stays inside one.
        return [json.loads(line) for line in text.splitlines()]

    read.text = stream.getvalue
    yield read
    handler.setStream(old)
    for logger, level in zip(own, levels, strict=True):
        logger.setLevel(level)


@pytest.mark.django_db
def test_a_request_line_carries_its_id_and_user_and_is_json(client_for, requester, log_lines):
    client = client_for(requester)
    response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="ingress-req-0001")
    assert response.status_code == 404
    assert response["X-Request-ID"] == "ingress-req-0001"
    (line,) = [ln for ln in log_lines() if ln["logger"] == "django.request"]
    assert line["level"] == "WARNING" and "Not Found" in line["message"]
    assert line["request_id"] == "ingress-req-0001"
    assert line["user"] == requester.username
    assert line["time"].startswith("20")


@pytest.mark.django_db
def test_an_odd_request_id_is_replaced_and_the_new_one_echoed(client):
    response = client.get("/healthz", HTTP_X_REQUEST_ID="bad id; drop table")
    assert response["X-Request-ID"] != "bad id; drop table"
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_the_audit_event_of_a_request_has_the_request_id(client_for, approver, log_lines):
    tenant = TenantFactory(state="requested")
    client = client_for(approver)
    url = reverse("tenants:approval", args=[tenant.pk])
    response = client.post(url, {"decision": "approve"}, HTTP_X_REQUEST_ID="approve-req-0002")
    assert response.status_code == 302
    event = AuditEvent.objects.filter(object_id=str(tenant.pk)).latest("id")
    assert event.action == "tenant.approved" and event.request_id == "approve-req-0002"


@pytest.mark.parametrize(
    "line, secret",
    [
        ("token ptk_AbC123-_xyzSECRET used", "AbC123-_xyzSECRET"),
        ("Authorization: Bearer abcdefghijklmnop1234", "abcdefghijklmnop1234"),
        ("could not connect to postgres://portal:hunter2pw@db:5432/x", "hunter2pw"),
        ("{'password': 's3cr3t-value', 'user': 'x'}", "s3cr3t-value"),
        ('{"secret_access_key": "AKIAxyz/secret+key"}', "AKIAxyz/secret+key"),
        ("client_secret=verysecret&grant_type=x", "verysecret"),
    ],
)
def test_credentials_are_masked(line, secret):
    masked = mask_secrets(line)
    assert secret not in masked and "***" in masked


def test_masking_leaves_a_json_line_valid(log_lines):
    logging.getLogger("portal.test").warning(
        "connect failed", extra={"detail": {"password": "pw-in-extra", "host": "db"}}
    )
    (line,) = log_lines()
    assert "pw-in-extra" not in json.dumps(line) and line["detail"]["host"] == "db"


@pytest.mark.django_db
def test_a_new_api_token_is_in_no_log_line(client_for, requester, log_lines, caplog):
    caplog.set_level(logging.DEBUG)
    client = client_for(requester)
    response = client.post(reverse("api_tokens:list"), {"name": "ci", "days": "30"})
    assert response.status_code == 200
    plain = response.context["plain"]
    client.logout()
    response = client.get("/api/v1/tenants/", HTTP_AUTHORIZATION=f"Bearer {plain}")
    assert response.status_code == 200
    assert plain not in caplog.text  # no record holds it, masked or not
    logging.getLogger("portal.test").info("leaked %s", plain)  # as a careless caller would
    assert plain not in log_lines.text()


@pytest.mark.django_db
def test_each_request_has_an_access_line_without_its_query(client_for, requester, log_lines):
    client = client_for(requester)
    client.get("/tenants/?q=secret-search-words", HTTP_X_REQUEST_ID="access-line-0003")
    client.get("/healthz")
    (line,) = [ln for ln in log_lines() if ln["logger"] == "portal.access"]
    assert line["message"] == "GET /tenants/ 200"
    assert line["request_id"] == "access-line-0003" and line["user"] == requester.username
    assert line["view"] == "tenants:list" and line["status"] == 200 and line["duration_ms"] > 0
    assert "secret-search-words" not in log_lines.text()
