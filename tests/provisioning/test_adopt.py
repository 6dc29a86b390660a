"""tenant_adopt: what exists under a tenant's names without its marker becomes the tenant's only
when a human says so; another tenant's never."""

import io
import sys
import uuid

import boto3
import pytest
from django.core.management import CommandError, call_command

from provisioning.secrets import MemorySecrets
from provisioning.spec import spec_for
from provisioning.steps.base import StepContext
from provisioning.steps.database import DatabaseStep
from provisioning.steps.storage import StorageStep
from tenants.models import AuditEvent, Tenant
from tests import services
from tests.factories import TenantFactory
from tests.provisioning.test_database import admin, query
from tests.provisioning.test_storage import ADMIN, s3  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant():
    return TenantFactory(state=Tenant.State.READY, slug=f"a{uuid.uuid4().hex[:10]}")


@pytest.fixture
def made_by_hand(settings, tenant):
    """The tenant's database and user as a portal before the registry made them."""
    services.require("MariaDB", services.MARIADB)
    settings.PORTAL_MARIADB_URL = services.MARIADB_URL
    settings.PORTAL_MARIADB_USER_HOST = "%"
    settings.PORTAL_MARIADB_REQUIRE_SSL = False
    spec = spec_for(tenant)
    conn = admin()
    query(conn, f"CREATE DATABASE `{spec.db_name}`")
    query(conn, "CREATE USER %s@'%%' IDENTIFIED BY 'old-password'", [spec.db_user])
    yield spec, conn
    query(conn, "DROP USER IF EXISTS %s@'%%'", [spec.db_user])
    query(conn, f"DROP DATABASE IF EXISTS `{spec.db_name}`")
    query(conn, "DELETE FROM tenant_portal.owned WHERE name = %s", [spec.db_user])
    conn.close()


def adopt(slug: str, answer: str | None = None) -> str:
    out = io.StringIO()
    args = [slug] if answer is not None else [slug, "--yes"]
    stdin = io.StringIO((answer or "") + "\n")
    saved, sys.stdin = sys.stdin, stdin
    try:
        call_command("tenant_adopt", *args, stdout=out)
    finally:
        sys.stdin = saved
    return out.getvalue()


def rows(conn, spec) -> list[tuple]:
    return query(conn, "SELECT kind, tenant FROM tenant_portal.owned WHERE name = %s "
                       "ORDER BY kind", [spec.db_name])  # fmt: skip


def test_a_database_and_user_of_an_older_portal_are_adopted_and_then_managed(made_by_hand):
    spec, conn = made_by_hand
    step = DatabaseStep(StepContext(spec=spec, secrets=MemorySecrets()))
    assert any("not this tenant's" in d for d in step.check())

    output = adopt(spec.slug)
    assert f"MariaDB database {spec.db_name}" in output and f"user {spec.db_user}@%" in output
    assert rows(conn, spec) == [("database", spec.slug), ("user", spec.slug)]
    event = AuditEvent.objects.get(action=AuditEvent.Action.TENANT_ADOPTED)
    assert event.after == {
        "adopted": [f"MariaDB database {spec.db_name}", f"MariaDB user {spec.db_user}@%"]
    }

    assert step.apply().status == "done"  # now the tenant's: the stored password is set
    assert step.check() == []
    assert "nothing unmarked" in adopt(spec.slug)  # a second time: nothing to do


def test_another_tenants_claim_is_never_adopted(made_by_hand):
    spec, conn = made_by_hand
    query(conn, "INSERT INTO tenant_portal.owned (kind, name, host, tenant) "
                "VALUES ('user', %s, '%%', 'someone-else')", [spec.db_user])  # fmt: skip
    with pytest.raises(CommandError, match="is tenant someone-else's: nothing was adopted"):
        adopt(spec.slug)
    assert rows(conn, spec) == [("user", "someone-else")]  # the database not claimed either
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_ADOPTED).exists()


def test_without_the_slug_typed_again_nothing_is_adopted(made_by_hand):
    spec, conn = made_by_hand
    with pytest.raises(CommandError, match="Nothing adopted"):
        adopt(spec.slug, answer="wrong")
    assert rows(conn, spec) == []
    adopt(spec.slug, answer=spec.slug)
    assert len(rows(conn, spec)) == 2


def test_an_untagged_iam_user_gets_the_tenant_tag(s3, moto_url, settings, tenant):  # noqa: F811
    settings.PORTAL_MARIADB_URL = ""
    step = StorageStep(StepContext(spec=spec_for(tenant), secrets=MemorySecrets()))
    iam = boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1", **ADMIN)
    iam.create_user(UserName=step.user_name)
    adopt(tenant.slug)
    tags = iam.list_user_tags(UserName=step.user_name)["Tags"]
    assert tags == [{"Key": "portal.wp.ionos/tenant", "Value": tenant.slug}]
    assert step.apply().status == "done"


def test_an_ionos_user_of_an_older_portal_gets_the_marker(
    s3,  # noqa: F811
    ionos_api,
    settings,
    tenant,
):
    settings.PORTAL_MARIADB_URL = ""
    settings.PORTAL_S3_CREDENTIALS = "ionos"
    email = f"wp-tenant-{tenant.slug}@tenants.example.com"
    body = {"properties": {"firstname": "WordPress", "lastname": f"tenant {tenant.slug}",
                           "email": email, "password": "a-password"}}  # fmt: skip
    ionos_api.handle("POST", "/cloudapi/v6/um/users", {}, body)
    step = StorageStep(StepContext(spec=spec_for(tenant), secrets=MemorySecrets()))
    assert "not the portal's" in step.check()[-1]

    assert f"IONOS user {email}" in adopt(tenant.slug)
    props = ionos_api.user_by_email(email)["properties"]
    assert (props["firstname"], props["lastname"], props["email"]) == (
        "tenant-portal",
        tenant.slug,
        email,
    )
    assert props["administrator"] is False
    assert step.apply().status == "done"
