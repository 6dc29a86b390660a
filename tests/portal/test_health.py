"""/healthz and /readyz: open without login, and readyz names the part that fails."""

import pytest
from django.db import connection

from portal.celery import app as celery_app
from tests import services as svc


def test_healthz_answers_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_is_200_when_database_and_broker_answer(client):
    svc.require("Redis", svc.REDIS)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


@pytest.fixture
def broker_down():
    saved = celery_app.conf.broker_write_url
    celery_app.conf.broker_write_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    yield
    celery_app.conf.broker_write_url = saved


@pytest.mark.django_db
def test_readyz_names_a_broker_that_does_not_answer(client, broker_down):
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert list(body["failing"]) == ["broker"]
    assert body["failing"]["broker"].startswith("the Celery broker does not answer")


@pytest.fixture
def database_down(django_db_blocker):
    with django_db_blocker.unblock():
        saved = connection.settings_dict["PORT"]
        connection.close()
        connection.settings_dict["PORT"] = 1
        yield
        connection.close()
        connection.settings_dict["PORT"] = saved


def test_readyz_names_a_database_that_does_not_answer(client, database_down, broker_down):
    response = client.get("/readyz")
    assert response.status_code == 503
    failing = response.json()["failing"]
    assert failing["database"].startswith("the database does not answer")
    assert "broker" in failing
