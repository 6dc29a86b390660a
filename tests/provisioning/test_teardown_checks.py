"""The teardown report's look-ups on the test servers: every outside object a deletion removed is
looked up again afterwards (Kubernetes fake, Authentik fake, real MariaDB, moto S3)."""

import json
import tempfile
import uuid
from pathlib import Path

import boto3
import pytest
import urllib3

from provisioning.models import Run, StepRun
from provisioning.runs import run_request
from tenants import services
from tenants.models import AuditEvent, Backup, Tenant
from tenants.tasks import purge_tenant
from tests.factories import TenantFactory
from tests.provisioning.cluster import S3_ADMIN
from tests.provisioning.test_database import query
from tests.provisioning.test_kubernetes_engine import reconcile_until_settled
from tests.provisioning.test_storage import s3  # noqa: F401  (the S3 settings fixture)
from tests.tenants.jobrunner import FilesJobRunner
from tests.tenants.test_clone import _built
from tests.tenants.test_clone import platform as platform  # every step on its test server

pytestmark = pytest.mark.django_db
GONE = "checked gone"
RECORDINGS = Path(__file__).resolve().parents[1] / "recordings"
KUBE_RECORDINGS = RECORDINGS / "kubernetes-1.32"
AUTHENTIK_RECORDINGS = RECORDINGS / "authentik-2025.8.1"


@pytest.fixture
def built(platform, settings, requester, kube_cluster, django_capture_on_commit_callbacks):  # noqa: F811
    """A ready tenant on every test server, with a file under its S3 prefix."""
    store, conn, made = platform
    slug = f"t{uuid.uuid4().hex[:8]}"
    made.append(slug)
    tenant = TenantFactory(
        owner=requester, slug=slug, state=Tenant.State.APPROVED, s3_bucket=settings.PORTAL_S3_BUCKET
    )
    with django_capture_on_commit_callbacks():
        run_request(tenant=tenant, action=Run.Action.APPLY, reason="approved")
    tenant = _built(tenant, kube_cluster)
    store.put_object(Bucket=tenant.s3_bucket, Key=f"tenants/{slug}/2026/12/a.png", Body=b"a")
    return tenant


def _group(authentik_api, name: str) -> dict | None:
    return next((g for g in authentik_api.groups.values() if g["name"] == name), None)


def _delete(tenant, kube_cluster, capture) -> Tenant:
    """Deleted at once: the worker's purge (run here) takes the final backup, its files Job run
    on this host, then queues the teardown."""
    with capture():
        services.tenant_delete(tenant=tenant, actor=None, now=True)
    with tempfile.TemporaryDirectory() as folder, capture():
        content, work = Path(folder, "wp-content"), Path(folder, "work")
        content.mkdir()
        work.mkdir()
        with FilesJobRunner(kube_cluster, content, work):
            purge_tenant(tenant.pk)
    final = tenant.backups.get(reason="final")
    assert final.state == Backup.State.DONE, final.error
    reconcile_until_settled(tenant, kube_cluster)
    tenant.refresh_from_db()
    return tenant


def _checked(tenant) -> dict[str, str]:
    event = AuditEvent.objects.get(action=AuditEvent.Action.TENANT_DELETED, object_id=tenant.pk)
    return {c["object"]: c["result"] for row in event.after["removed"] for c in row["checked"]}


def test_every_object_the_teardown_removed_is_looked_up_afterwards_and_reported_gone(
    built, platform, kube_cluster, authentik_api, moto_url, django_capture_on_commit_callbacks,
    client,
):  # fmt: skip
    store, conn, _ = platform
    slug, ns = built.slug, built.namespace
    tenant = _delete(built, kube_cluster, django_capture_on_commit_callbacks)
    assert tenant.state == Tenant.State.DELETED, tenant.last_error

    bucket = tenant.s3_bucket
    user = f"wp-tenant-{slug}"
    assert _checked(tenant) == {
        f"namespace {ns} and everything in it": GONE,
        f"database wp_{slug}": GONE,
        f"user wp_{slug}@%": GONE,
        f"Authentik application wp-{slug}": GONE,
        f"Authentik provider wp-{slug}": GONE,
        f"Authentik group wp-{slug}-users": GONE,
        f"S3 prefix tenants/{slug}/": GONE,
        f"IAM user {user}": GONE,
        f"S3 access keys of IAM user {user}": GONE,
        f"the tenant's statements in the policy of bucket {bucket}": GONE,
        f"the pipeline's entry {slug}.json": GONE,
        f"NetworkPolicy {ns}/allow-content-pipeline": GONE,
        f"NetworkPolicy content-pipeline/to-tenant-{slug}": GONE,
        f"Authentik application pipeline-{slug}": GONE,
        f"Authentik provider pipeline-{slug}": GONE,
        f"Authentik service account pipeline-{slug}": GONE,
        f"Authentik app password pipeline-{slug}-app-password": GONE,
    }
    # What the look-ups said is so: each system asked again here, by the test.
    assert kube_cluster.get("Namespace", ns) is None
    assert query(conn, "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", [
        f"wp_{slug}"
    ]) == []  # fmt: skip
    assert query(conn, "SELECT 1 FROM mysql.user WHERE User = %s", [f"wp_{slug}"]) == []
    assert authentik_api.provider_named(f"wp-{slug}") is None
    assert store.list_object_versions(Bucket=bucket, Prefix=f"tenants/{slug}/").get(
        "Versions", []
    ) == []  # fmt: skip
    iam = boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1", **S3_ADMIN)
    assert user not in [u["UserName"] for u in iam.list_users()["Users"]]

    # The tenant page shows each look-up beside what went.
    client.force_login(tenant.owner)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert f"database wp_{slug}: checked gone" in page
    assert f"S3 prefix tenants/{slug}/: checked gone" in page


def test_an_object_left_alone_as_not_the_tenants_is_reported_still_there(
    built, platform, kube_cluster, django_capture_on_commit_callbacks
):
    _, conn, _ = platform
    slug = built.slug
    # The portal's registry no longer claims the database: it is not the tenant's to drop.
    query(conn, "DELETE FROM tenant_portal.owned WHERE tenant = %s AND kind = 'database'", [slug])
    tenant = _delete(built, kube_cluster, django_capture_on_commit_callbacks)
    assert tenant.state == Tenant.State.DELETED, tenant.last_error
    checked = _checked(tenant)
    assert checked[f"database wp_{slug}"] == (
        f"still there: MariaDB still has database wp_{slug} (not the tenant's: left alone)"
    )
    assert checked[f"user wp_{slug}@%"] == GONE
    query(conn, f"DROP DATABASE IF EXISTS `wp_{slug}`")


def test_an_object_that_outlives_its_removal_is_waited_for_and_removed_again(
    built, kube_cluster, authentik_api, django_capture_on_commit_callbacks
):
    group = _group(authentik_api, f"wp-{built.slug}-users")
    # Authentik says the group went, but it didn't (a removal the look-up must catch).
    authentik_api.fail_next(f"/api/v3/core/groups/{group['pk']}/", 204, method="DELETE")
    tenant = _delete(built, kube_cluster, django_capture_on_commit_callbacks)
    assert tenant.state == Tenant.State.DELETED, tenant.last_error
    sso = StepRun.objects.get(run__tenant=tenant, run__action=Run.Action.DESTROY, name="sso")
    assert f"still there after the removal: Authentik group wp-{built.slug}-users" in sso.log
    assert _checked(tenant)[f"Authentik group wp-{built.slug}-users"] == GONE
    assert _group(authentik_api, f"wp-{built.slug}-users") is None


def test_a_removal_that_never_takes_fails_the_teardown_with_what_is_left(
    built, settings, kube_cluster, authentik_api, django_capture_on_commit_callbacks
):
    settings.PORTAL_WAIT_TIMEOUT = 0  # the second look gives up
    group = _group(authentik_api, f"wp-{built.slug}-users")
    authentik_api.fail_next(f"/api/v3/core/groups/{group['pk']}/", 204, times=5, method="DELETE")
    tenant = _delete(built, kube_cluster, django_capture_on_commit_callbacks)
    assert tenant.state == Tenant.State.FAILED
    assert f"still there after the removal: Authentik group wp-{built.slug}-users" in (
        tenant.last_error
    )
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_DELETED).exists()


def _recorded_kube(status: int) -> dict:
    rows = [json.loads(line) for line in (KUBE_RECORDINGS / "lifecycle-h1rec.jsonl").open()]
    return next(r for r in rows if r["phase"] == "deprovision" and r["status"] == status)


def _recorded_authentik(name: str, method: str, path: str, status: int) -> dict:
    rows = [json.loads(line) for line in (AUTHENTIK_RECORDINGS / name).open()]
    return next(r for r in rows if (r["method"], r["path"], r["status"]) == (method, path, status))


def test_the_look_ups_are_answered_as_the_real_servers_answered_them(
    built, kube_cluster, authentik_api, django_capture_on_commit_callbacks
):
    """The fakes' "gone" answers the look-ups rely on, held to the recordings: kube-apiserver
    1.32's 404 for a namespace whose deletion ended, Authentik 2025.8.1's 404 for an
    application and its empty page for a list by name."""
    slug, ns = built.slug, built.namespace
    _delete(built, kube_cluster, django_capture_on_commit_callbacks)
    http = urllib3.PoolManager(retries=False)

    real = _recorded_kube(404)
    answer = http.request("GET", f"{kube_cluster.url}/api/v1/namespaces/{ns}")
    assert (answer.status, json.loads(answer.data)) == (
        404,
        json.loads(json.dumps(real["response_object"]).replace("wp-h1rec", ns)),
    )

    auth = {"Authorization": f"Bearer {authentik_api.token}"}
    path = "/api/v3/core/applications/"
    real = _recorded_authentik("sso/09-destroy-again.jsonl", "GET", f"{path}wp-h2rec/", 404)
    answer = http.request("GET", f"{authentik_api.url}{path}wp-{slug}/", headers=auth)
    assert (answer.status, json.loads(answer.data)) == (404, real["response_body"])
    empty = next(
        json.loads(line)["response_body"]
        for line in (AUTHENTIK_RECORDINGS / "sso/08-destroy.jsonl").open()
        if json.loads(line)["by"] == "harness" and "/providers/oauth2/" in line
    )
    for path, field, value in (
        ("/api/v3/providers/oauth2/", "name", f"wp-{slug}"),
        ("/api/v3/core/groups/", "name", f"wp-{slug}-users"),  # the same paginator's page
    ):
        url = f"{authentik_api.url}{path}"
        answer = http.request("GET", url, fields={field: value}, headers=auth)
        assert (answer.status, json.loads(answer.data)) == (200, empty), path
    # The portal's own look-ups were among the teardown's requests.
    asked = {(m, p) for m, p in authentik_api.requests}
    assert ("GET", f"/api/v3/core/applications/wp-{slug}/") in asked
    assert ("GET", "/api/v3/core/groups/") in asked
