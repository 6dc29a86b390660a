"""A tenant's whole life under a real Celery worker, every step real: the fake Kubernetes API,
the real MariaDB, moto's S3 and IAM, the fake Authentik — provision, crash, resume, delete."""

import uuid

import boto3
import pymysql
import pytest

from provisioning.drivers.mariadb import MariaDBTarget
from provisioning.models import Run, StepRun
from provisioning.secrets import (
    DB_PASSWORD,
    OIDC_CLIENT_ID,
    S3_ACCESS_KEY_ID,
    SECRET_NAME,
    WP_SALT_KEYS,
)
from tenants import services
from tenants.models import Tenant
from tests import services as svc
from tests.factories import TenantFactory
from tests.workers import Worker, wait_until, worker_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

S3_ADMIN = {"aws_access_key_id": "admin-key", "aws_secret_access_key": "admin-secret"}


@pytest.fixture
def platform(tmp_path, kube_api, authentik_api, moto_url):
    """Everything real or a stand-in over HTTP; the worker gets it all through its environment."""
    svc.require("Redis", svc.REDIS)
    svc.require("MariaDB", svc.MARIADB)
    env = {
        "PORTAL_KUBECONFIG": str(kube_api.kubeconfig_path),
        # Long enough that a held request is still in flight when the worker is killed.
        "PORTAL_KUBE_TIMEOUT": "60",
        "PORTAL_MARIADB_URL": svc.MARIADB_URL,
        "PORTAL_MARIADB_USER_HOST": "%",
        "PORTAL_S3_ENDPOINT_URL": moto_url,
        "PORTAL_S3_REGION": "eu-central-1",
        "PORTAL_S3_ACCESS_KEY_ID": S3_ADMIN["aws_access_key_id"],
        "PORTAL_S3_SECRET_ACCESS_KEY": S3_ADMIN["aws_secret_access_key"],
        "PORTAL_S3_BUCKET": f"media-{uuid.uuid4().hex[:10]}",
        "PORTAL_AUTHENTIK_URL": authentik_api.url,
        "PORTAL_AUTHENTIK_TOKEN": authentik_api.token,
        "PORTAL_PLAN_DIR": str(tmp_path / "plan"),
        "PORTAL_BROKER_VISIBILITY_TIMEOUT": "4",
        "PORTAL_BROKER_RESTORE_INTERVAL": "1",
        "PORTAL_TENANT_LOCK_TTL": "4",
        "PORTAL_RETRY_BASE_DELAY": "0.2",
        "PORTAL_WAIT_INTERVAL": "1",
    }
    started: list[Worker] = []

    def start(name: str) -> Worker:
        worker = Worker(worker_env(env), tmp_path / f"{name}.log", name)
        started.append(worker)
        return worker

    start.env = env
    start.logs = lambda: "\n".join(f"--- {w.name}\n{w.log()[-4000:]}" for w in started)
    yield start
    for worker in started:
        worker.stop()


def _wait_state(tenant, states, platform, kube_api, timeout=120):
    def reached():
        kube_api.mark_ready()  # the cluster's controllers roll out what was applied
        tenant.refresh_from_db()
        return tenant.state in states

    wait_until(reached, timeout, f"tenant in {states}", platform.logs)


def _secret(kube_api, tenant) -> dict[str, str]:
    import base64

    data = kube_api.get("Secret", SECRET_NAME, tenant.namespace)["data"]
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def _db_login(tenant, password: str):
    target = MariaDBTarget.from_url(svc.MARIADB_URL)
    db = "wp_" + tenant.slug.replace("-", "_")
    return pymysql.connect(
        host=target.host, port=target.port, user=db, password=password, database=db
    )


def _iam_keys(platform, slug: str) -> list[str]:
    iam = boto3.client(
        "iam", endpoint_url=platform.env["PORTAL_S3_ENDPOINT_URL"], region_name="us-east-1",
        **S3_ADMIN,
    )  # fmt: skip
    keys = iam.list_access_keys(UserName=f"wp-tenant-{slug}")["AccessKeyMetadata"]
    return [key["AccessKeyId"] for key in keys]


def _providers(authentik_api, slug: str) -> list[dict]:
    return [p for p in authentik_api.providers.values() if p["name"] == f"wp-{slug}"]


def test_a_tenant_is_built_for_real_left_alone_when_unchanged_and_deleted(
    requester, approver, platform, kube_api, authentik_api
):
    platform("w1")
    tenant = TenantFactory(owner=requester, slug=f"real-{uuid.uuid4().hex[:6]}")
    services.tenant_approve(tenant_id=tenant.pk, actor=approver)
    _wait_state(tenant, {Tenant.State.READY, Tenant.State.FAILED}, platform, kube_api)
    assert tenant.state == Tenant.State.READY, tenant.last_error

    run = tenant.runs.get()
    assert {s.name: s.status for s in run.steps.all()} == {
        name: StepRun.Status.CHANGED
        for name in ("namespace", "database", "sso", "storage", "wordpress", "network")
    }
    secret = _secret(kube_api, tenant)
    assert len(secret[DB_PASSWORD]) >= 32 and all(key in secret for key in WP_SALT_KEYS)
    with _db_login(tenant, secret[DB_PASSWORD]) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE TABLE hello (id INT)")
    assert _iam_keys(platform, tenant.slug) == [secret[S3_ACCESS_KEY_ID]]
    [provider] = _providers(authentik_api, tenant.slug)
    assert provider["client_id"] == secret[OIDC_CLIENT_ID]
    assert kube_api.get("Deployment", "wordpress", tenant.namespace) is not None

    # A second reconcile of an unchanged tenant changes nothing anywhere.
    kube_writes, authentik_writes = len(kube_api.changing_writes), len(authentik_api.writes())
    services.tenant_reconcile(tenant=tenant, actor=approver)
    wait_until(
        lambda: tenant.runs.filter(status=Run.Status.SUCCEEDED).count() == 2,
        60,
        "the second run",
        platform.logs,
    )
    second = tenant.runs.order_by("-id").first()
    assert {s.status for s in second.steps.all()} == {StepRun.Status.UNCHANGED}
    assert len(kube_api.changing_writes) == kube_writes
    assert len(authentik_api.writes()) == authentik_writes

    services.tenant_delete(tenant=tenant, actor=requester)
    _wait_state(tenant, {Tenant.State.DELETED, Tenant.State.FAILED}, platform, kube_api)
    assert tenant.state == Tenant.State.DELETED, tenant.last_error
    assert kube_api.get("Namespace", tenant.namespace) is None
    assert _providers(authentik_api, tenant.slug) == []
    with pytest.raises(pymysql.err.OperationalError):
        _db_login(tenant, secret[DB_PASSWORD])
    with pytest.raises(boto3.client("iam").exceptions.NoSuchEntityException):
        _iam_keys(platform, tenant.slug)


def test_a_worker_killed_mid_apply_is_finished_by_the_next_without_duplicates(
    requester, approver, platform, kube_api, authentik_api
):
    # The WordPress Deployment's apply hangs, as an API server under load would.
    kube_api.delay("PATCH", r"/deployments/wordpress$", seconds=30)
    first = platform("w1")
    tenant = TenantFactory(owner=requester, slug=f"crash-{uuid.uuid4().hex[:6]}")
    services.tenant_approve(tenant_id=tenant.pk, actor=approver)

    def deployment_apply_in_flight():
        return any(
            method == "PATCH" and path.endswith("/deployments/wordpress")
            for method, path in list(kube_api.requests)
        )

    wait_until(deployment_apply_in_flight, 90, "the Deployment apply", platform.logs)
    namespace_uid = kube_api.get("Namespace", tenant.namespace)["metadata"]["uid"]
    secret_before = _secret(kube_api, tenant)
    first.kill()
    assert tenant.runs.get().steps.get(name="wordpress").status == StepRun.Status.RUNNING

    platform("w2")
    _wait_state(tenant, {Tenant.State.READY, Tenant.State.FAILED}, platform, kube_api)
    assert tenant.state == Tenant.State.READY, tenant.last_error
    run = tenant.runs.get()
    assert run.status == Run.Status.SUCCEEDED

    # Nothing was made twice, and no credential was generated again.
    assert kube_api.get("Namespace", tenant.namespace)["metadata"]["uid"] == namespace_uid
    assert len(kube_api.list("Job", tenant.namespace)) == 1
    secret_after = _secret(kube_api, tenant)
    assert {k: secret_after[k] for k in secret_before} == secret_before
    assert len(_providers(authentik_api, tenant.slug)) == 1
    assert _iam_keys(platform, tenant.slug) == [secret_after[S3_ACCESS_KEY_ID]]
    with _db_login(tenant, secret_after[DB_PASSWORD]):
        pass

    services.tenant_delete(tenant=tenant, actor=requester)  # leave MariaDB as we found it
    _wait_state(tenant, {Tenant.State.DELETED, Tenant.State.FAILED}, platform, kube_api)
    assert tenant.state == Tenant.State.DELETED, tenant.last_error
