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
    body = response.json()
    assert body["checks"] == {"database": "ok", "broker": "ok", "workers": "none seen yet"}
    assert body["warnings"]["workers"].startswith("Building is paused: no provisioning worker")


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


@pytest.mark.django_db(transaction=True)
def test_readyz_follows_the_workers_heartbeat(client, settings, tmp_path):
    """A real worker is seen when it starts, the beat keeps it seen, and its end shows."""
    from django.core.cache import cache

    from portal import heartbeat
    from tests.workers import Worker, wait_until, worker_env

    svc.require("Redis", svc.REDIS)
    env = worker_env({"PORTAL_HEARTBEAT_INTERVAL": "1"})
    worker = Worker(env, tmp_path / "worker.log", "hb")
    beat = None
    try:
        wait_until(heartbeat.worker_alive, 30, "the worker's first heartbeat", worker.log)
        assert client.get("/readyz").json()["checks"]["workers"] == "ok"
        # The beat's heartbeat task reaches a worker on the provisioning queue.
        cache.delete(heartbeat.KEY)
        beat = Worker(env, tmp_path / "beat.log", "beat", beat=True)
        wait_until(heartbeat.worker_alive, 30, "a heartbeat sent by the beat", beat.log)
    finally:
        worker.stop()
        if beat:
            beat.stop()
    settings.PORTAL_WORKER_STALE_AFTER = 1
    wait_until(lambda: not heartbeat.worker_alive(), 10, "the heartbeat to go stale")
    body = client.get("/readyz").json()
    assert body["status"] == "ok" and body["checks"]["workers"].startswith("none seen for")
