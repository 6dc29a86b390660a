"""A tenant's whole life under a real Celery worker, every step real: the fake Kubernetes API,
the real MariaDB, moto's S3 and IAM, the fake Authentik — provision, crash, resume, delete."""

import uuid

import boto3
import pymysql
import pytest

from provisioning.models import Run, StepRun
from provisioning.secrets import DB_PASSWORD, OIDC_CLIENT_ID, S3_ACCESS_KEY_ID, WP_SALT_KEYS
from tenants import services
from tenants.models import Tenant
from tests.factories import TenantFactory
from tests.provisioning.cluster import (
    db_login,
    iam_keys,
    providers,
    tenant_secret,
    wait_cluster_state,
)
from tests.workers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_a_tenant_is_built_for_real_left_alone_when_unchanged_and_deleted(
    requester, approver, platform, kube_api, authentik_api
):
    platform("w1")
    tenant = TenantFactory(owner=requester, slug=f"real-{uuid.uuid4().hex[:6]}")
    services.tenant_approve(tenant_id=tenant.pk, actor=approver)
    wait_cluster_state(tenant, {Tenant.State.READY, Tenant.State.FAILED}, platform, kube_api)
    assert tenant.state == Tenant.State.READY, tenant.last_error

    run = tenant.runs.get()
    assert {s.name: s.status for s in run.steps.all()} == {
        **{
            name: StepRun.Status.CHANGED
            for name in ("namespace", "database", "sso", "storage", "wordpress", "network")
        },
        "pipeline": StepRun.Status.UNCHANGED,  # a tenant without the content pipeline
    }
    secret = tenant_secret(kube_api, tenant)
    assert len(secret[DB_PASSWORD]) >= 32 and all(key in secret for key in WP_SALT_KEYS)
    with db_login(tenant, secret[DB_PASSWORD]) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE TABLE hello (id INT)")
    assert iam_keys(platform, tenant.slug) == [secret[S3_ACCESS_KEY_ID]]
    [provider] = providers(authentik_api, tenant.slug)
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
    wait_cluster_state(tenant, {Tenant.State.DELETED, Tenant.State.FAILED}, platform, kube_api)
    assert tenant.state == Tenant.State.DELETED, tenant.last_error
    assert kube_api.get("Namespace", tenant.namespace) is None
    assert providers(authentik_api, tenant.slug) == []
    with pytest.raises(pymysql.err.OperationalError):
        db_login(tenant, secret[DB_PASSWORD])
    with pytest.raises(boto3.client("iam").exceptions.NoSuchEntityException):
        iam_keys(platform, tenant.slug)


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
    secret_before = tenant_secret(kube_api, tenant)
    first.kill()
    assert tenant.runs.get().steps.get(name="wordpress").status == StepRun.Status.RUNNING

    platform("w2")
    wait_cluster_state(tenant, {Tenant.State.READY, Tenant.State.FAILED}, platform, kube_api)
    assert tenant.state == Tenant.State.READY, tenant.last_error
    run = tenant.runs.get()
    assert run.status == Run.Status.SUCCEEDED

    # Nothing was made twice, and no credential was generated again.
    assert kube_api.get("Namespace", tenant.namespace)["metadata"]["uid"] == namespace_uid
    jobs = kube_api.list("Job", tenant.namespace)
    components = [j["metadata"]["labels"]["app.kubernetes.io/component"] for j in jobs]
    assert sorted(components) == ["install", "update-db"], components
    secret_after = tenant_secret(kube_api, tenant)
    assert {k: secret_after[k] for k in secret_before} == secret_before
    assert len(providers(authentik_api, tenant.slug)) == 1
    assert iam_keys(platform, tenant.slug) == [secret_after[S3_ACCESS_KEY_ID]]
    with db_login(tenant, secret_after[DB_PASSWORD]):
        pass

    services.tenant_delete(tenant=tenant, actor=requester)  # leave MariaDB as we found it
    wait_cluster_state(tenant, {Tenant.State.DELETED, Tenant.State.FAILED}, platform, kube_api)
    assert tenant.state == Tenant.State.DELETED, tenant.last_error
