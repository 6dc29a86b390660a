"""Shared fixtures: users in each role, a fresh plan directory, the services' availability."""

import pytest

from tests import services
from tests.factories import UserFactory


def pytest_configure(config):
    # The portal database is PostgreSQL, as in production: without it nothing runs.
    if not services.listening(services.POSTGRES):
        import os

        message = "PostgreSQL is not listening on 127.0.0.1:5432; scripts/services.sh starts it."
        if os.environ.get("CI", "").lower() == "true":
            raise pytest.UsageError(message)


def pytest_sessionfinish(session):
    """This session's own queues (tests/settings.py) leave Redis with it: what no worker took
    (a page's mail in a test without one) doesn't pile up in the shared database."""
    if not services.listening(services.REDIS):
        return
    import redis
    from django.conf import settings

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    for queue in (settings.CELERY_TASK_DEFAULT_QUEUE, settings.PORTAL_PROVISIONING_QUEUE):
        keys = [*broker.scan_iter(match=f"{queue}*")]
        broker.delete(*keys, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")


@pytest.fixture(autouse=True)
def _plan_dir(settings, tmp_path):
    settings.PORTAL_PLAN_DIR = tmp_path / "plan"


@pytest.fixture(autouse=True)
def _no_platform_values_kept():
    """The sso step keeps Authentik's platform values per process: not across tests, whose
    fakes (on ports that come round again) answer differently."""
    from provisioning.steps import sso

    sso.platform_forget()


@pytest.fixture
def requester(db):
    return UserFactory(username="alice", role="requester")


@pytest.fixture
def other_requester(db):
    return UserFactory(username="bob", role="requester")


@pytest.fixture
def approver(db):
    return UserFactory(username="carol", role="approver")


@pytest.fixture
def second_approver(db):
    return UserFactory(username="dave", role="approver")


@pytest.fixture
def auditor(db):
    return UserFactory(username="erin", role="auditor")


@pytest.fixture
def client_for(client):
    """A test client signed in as the given user."""

    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def eager_celery():
    """Run tasks in-process (unit tests only; integration tests use a real worker)."""
    from portal.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True
    yield app
    app.conf.task_always_eager = False
    app.conf.task_eager_propagates = False


@pytest.fixture
def mail_worker(tmp_path):
    """A real worker on this session's queues whose mail goes to a loopback SMTP port."""
    from tests.smtp import smtp_url
    from tests.workers import Worker, worker_env

    services.require("Redis", services.REDIS)
    started: list[Worker] = []

    def start(port: int, concurrency: int = 1, **extra: str) -> Worker:
        env = worker_env({"PORTAL_TEST_SMTP_URL": smtp_url(port), **extra})
        log = tmp_path / f"mail-{len(started)}.log"
        worker = Worker(env, log, f"mail{len(started)}", concurrency=concurrency)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def no_request_retries(settings):
    """No retries inside a driver: each outside request is tried once and its error shown."""
    settings.PORTAL_REQUEST_RETRY_BUDGET = 0


@pytest.fixture
def authentik_api(settings):
    """A fake Authentik API v3 on a free loopback port; the settings point the sso step at it."""
    from tests.fakes.authentik import FakeAuthentik

    fake = FakeAuthentik().start()
    settings.PORTAL_AUTHENTIK_URL = fake.url
    settings.PORTAL_AUTHENTIK_TOKEN = fake.token
    settings.PORTAL_AUTHENTIK_CONNECT_TIMEOUT = 2.0
    settings.PORTAL_AUTHENTIK_READ_TIMEOUT = 5.0
    yield fake
    fake.stop()


@pytest.fixture
def kube_api(tmp_path):
    """A fake Kubernetes API on a free loopback port (tests/fakes/kube.py): .url,
    .kubeconfig_path, .objects, .writes, and fault controls (.fail, .delay, .mark_ready)."""
    from tests.fakes.kube import FakeKube

    fake = FakeKube().start(kubeconfig_dir=tmp_path)
    yield fake
    fake.stop()


@pytest.fixture
def kube_cluster(kube_api, settings):
    """The portal's settings pointed at the fake Kubernetes API (drivers leave plan mode)."""
    settings.PORTAL_KUBECONFIG = str(kube_api.kubeconfig_path)
    settings.PORTAL_KUBE_CONTEXT = ""
    settings.PORTAL_KUBE_TIMEOUT = 2.0
    return kube_api


@pytest.fixture
def ionos_api(settings):
    """A fake IONOS Cloud API v6 on a free loopback port (tests/fakes/ionos.py): .users,
    .s3keys, .kubeconfigs, .requests/.writes(), .add_cluster(), .fail_next(); the settings
    point the portal at it, and no kubeconfig is left cached from another test."""
    from provisioning.drivers import ionos
    from tests.fakes.ionos import FakeIonos

    fake = FakeIonos().start()
    settings.PORTAL_IONOS_API_URL = fake.url
    settings.PORTAL_IONOS_TOKEN = fake.token
    settings.PORTAL_IONOS_TIMEOUT = 2.0
    settings.PORTAL_IONOS_TENANT_USER_DOMAIN = "tenants.example.com"
    ionos.kubeconfig_forget()
    yield fake
    ionos.kubeconfig_forget()
    fake.stop()


@pytest.fixture
def dns_server(settings):
    """A tiny DNS server on a loopback UDP port (tests/fakes/dnsserver.py): .txt, .names,
    .mode, .queries; the portal's TXT checks ask it, and give up after half a second."""
    from tests.fakes.dnsserver import TinyDns

    server = TinyDns().start()
    settings.PORTAL_DNS_RESOLVERS = [server.address]
    settings.PORTAL_DNS_TIMEOUT = 0.5
    yield server
    server.stop()


@pytest.fixture
def resolver():
    """What webhook receivers' names resolve to (tests/fakes/resolver.py): set
    resolver[name] = [addresses], or its turns[name] for answers in turn; emptied after the test."""
    from tests.fakes import resolver

    yield resolver.answers
    resolver.answers.clear()
    resolver.turns.clear()


@pytest.fixture
def loopback_receivers(settings):
    """Webhooks may go to loopback, where the tests' receivers listen (as an operator allows
    in-cluster ones); without it they may not, as by default."""
    settings.PORTAL_WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]


@pytest.fixture(scope="session")
def moto_url():
    """An S3- and IAM-compatible server (moto) on a free loopback port, for the whole session."""
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def _no_stray_connections_at_the_end(django_db_setup, django_db_blocker):
    """Close what live-server threads left open, so the test database can be dropped."""
    yield
    from django.db import connection

    if not connection.settings_dict["NAME"].startswith("test_"):
        return  # no test used the database, so none was created
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
