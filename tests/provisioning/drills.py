"""What every failure drill checks afterwards: outcomes, duplicates, orphans; and its report."""

import os
import time
import uuid

import boto3
import pymysql

from provisioning.drivers.mariadb import MariaDBTarget
from provisioning.secrets import DB_PASSWORD, OIDC_CLIENT_ID, S3_ACCESS_KEY_ID
from tenants import services
from tenants.models import Tenant
from tests.factories import TenantFactory
from tests.provisioning.cluster import S3_ADMIN, db_login, iam_keys, providers, tenant_secret
from tests.workers import wait_until

# PORTAL_DRILL_CLOCKS=production (bench.drills): the production defaults, so longer waits.
PRODUCTION = os.environ.get("PORTAL_DRILL_CLOCKS") == "production"
TIMEOUT = 1800 if PRODUCTION else 180
SETTLED = {Tenant.State.READY, Tenant.State.FAILED}
GONE = {Tenant.State.DELETED, Tenant.State.FAILED}


def report(drill: str, line: str) -> None:
    """One line of what the drill did or checked (shown with pytest -s or -rP)."""
    print(f"[drill {drill}] {line}", flush=True)


def approve(requester, approver, prefix: str, count: int) -> list[Tenant]:
    tenants = [
        TenantFactory(owner=requester, slug=f"{prefix}-{uuid.uuid4().hex[:6]}")
        for _ in range(count)
    ]
    for tenant in tenants:
        services.tenant_approve(tenant_id=tenant.pk, actor=approver)
    return tenants


def wait_all(tenants, states, platform, kube_api, timeout: float, during=None) -> float:
    """Seconds until every tenant is in `states`; `during()` is called on every poll."""
    started = time.monotonic()

    def settled():
        if during:
            during()
        kube_api.mark_ready()  # the cluster's controllers roll out what was applied
        for tenant in tenants:
            tenant.refresh_from_db()
        return all(tenant.state in states for tenant in tenants)

    wait_until(settled, timeout, f"every tenant in {states}", platform.logs)
    return time.monotonic() - started


def check_outcome(drill: str, tenants) -> None:
    """Every tenant ready, or failed with a message a person can act on."""
    ready = [t for t in tenants if t.state == Tenant.State.READY]
    failed = [t for t in tenants if t.state == Tenant.State.FAILED]
    for tenant in failed:
        assert len(tenant.last_error or "") > 10, f"{tenant.slug} failed without a clear message"
    report(drill, f"checked: {len(ready)} ready, {len(failed)} failed with a message")
    for tenant in failed:
        report(drill, f"  {tenant.slug}: {tenant.last_error}")


def retry_failed(drill: str, tenants, approver, platform, kube_api, timeout=TIMEOUT) -> None:
    """What an admin does once the outside system is healthy again: retry what failed."""
    failed = [t for t in tenants if t.state == Tenant.State.FAILED]
    for tenant in failed:
        services.tenant_retry(tenant=tenant, actor=approver)
    seconds = wait_all(tenants, {Tenant.State.READY}, platform, kube_api, timeout)
    report(drill, f"did: {len(failed)} failed retried once healthy; all ready in {seconds:.1f}s")


def check_no_duplicates(drill: str, tenants, platform, kube_api, authentik_api, mariadb_url):
    """One of each outside object per ready tenant, and the credentials in its Secret work."""
    for tenant in (t for t in tenants if t.state == Tenant.State.READY):
        secret = tenant_secret(kube_api, tenant)
        [provider] = providers(authentik_api, tenant.slug)
        assert provider["client_id"] == secret[OIDC_CLIENT_ID]
        apps = [a for a in authentik_api.applications.values() if tenant.slug in a["slug"]]
        assert [a["provider"] for a in apps] == [provider["pk"]], apps
        assert iam_keys(platform, tenant.slug) == [secret[S3_ACCESS_KEY_ID]]
        jobs = kube_api.list("Job", tenant.namespace)
        components = [j["metadata"]["labels"]["app.kubernetes.io/component"] for j in jobs]
        assert sorted(components) == ["install", "update-db"], components
        with db_login(tenant, secret[DB_PASSWORD], mariadb_url):
            pass
    report(
        drill,
        "checked: 0 duplicates (one Authentik provider and application, one IAM key, one "
        "install Job and one update-db Job per tenant; the Secret's database, OIDC and S3 "
        "credentials are the live ones)",
    )


def delete_all_and_check_no_orphans(
    drill: str, tenants, requester, platform, kube_api, authentik_api, mariadb_url, timeout=TIMEOUT
):
    for tenant in tenants:
        services.tenant_delete(tenant=tenant, actor=requester)
    seconds = wait_all(tenants, GONE, platform, kube_api, timeout)
    assert [t.slug for t in tenants if t.state != Tenant.State.DELETED] == [], [
        t.last_error for t in tenants
    ]
    iam = boto3.client(
        "iam", endpoint_url=platform.env["PORTAL_S3_ENDPOINT_URL"], region_name="us-east-1",
        **S3_ADMIN,
    )  # fmt: skip
    users = {u["UserName"] for u in iam.list_users()["Users"]}
    target = MariaDBTarget.from_url(mariadb_url)
    with (
        pymysql.connect(host=target.host, port=target.port, user=target.user or "root") as conn,
        conn.cursor() as cursor,
    ):
        cursor.execute("SHOW DATABASES")
        databases = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT User FROM mysql.user")
        db_users = {row[0] for row in cursor.fetchall()}
    for tenant in tenants:
        name = "wp_" + tenant.slug.replace("-", "_")
        assert kube_api.get("Namespace", tenant.namespace) is None, tenant.namespace
        assert providers(authentik_api, tenant.slug) == []
        assert not [a for a in authentik_api.applications.values() if tenant.slug in a["slug"]]
        assert f"wp-tenant-{tenant.slug}" not in users
        assert name not in databases and name not in db_users
    report(
        drill,
        f"checked: all {len(tenants)} deleted in {seconds:.1f}s, 0 orphans (no namespace, "
        "Authentik provider or application, IAM user, MariaDB database or user left)",
    )
