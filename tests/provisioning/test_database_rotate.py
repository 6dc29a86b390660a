"""tenant_rotate_db_password: what it refuses, and that it never runs half-configured."""

import json
import uuid
from io import StringIO

import pymysql
import pytest
from django.core.management import CommandError, call_command

from provisioning.drivers.kubernetes import KubernetesSecrets
from provisioning.secrets import DB_PASSWORD
from provisioning.spec import spec_for
from provisioning.steps.base import StepContext
from provisioning.steps.database import DatabaseStep
from provisioning.steps.namespace import NamespaceStep
from provisioning.steps.wordpress import WordPressStep
from tenants.models import AuditEvent, Tenant
from tests import services
from tests.factories import TenantFactory


@pytest.fixture
def ready_tenant(db, settings):
    settings.PORTAL_KUBECONFIG = ""
    settings.PORTAL_KUBE_IN_CLUSTER = False
    settings.PORTAL_IONOS_TOKEN = ""
    return TenantFactory(state=Tenant.State.READY)


def rotated_events() -> int:
    return AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_DB_PASSWORD_ROTATED).count()


def test_rotation_without_a_cluster_has_nowhere_to_keep_the_password(ready_tenant, settings):
    services.require("MariaDB", services.MARIADB)
    settings.PORTAL_MARIADB_URL = services.MARIADB_URL
    with pytest.raises(CommandError, match="credentials would have nowhere safe to live"):
        call_command("tenant_rotate_db_password", ready_tenant.slug)
    assert rotated_events() == 0
    ready_tenant.refresh_from_db()
    assert ready_tenant.lock_holder == ""  # the tenant is free for the engine again


def test_rotation_in_plan_mode_is_refused(ready_tenant, settings):
    settings.PORTAL_MARIADB_URL = ""
    with pytest.raises(CommandError, match="plan mode"):
        call_command("tenant_rotate_db_password", ready_tenant.slug)
    assert rotated_events() == 0


def test_only_ready_tenants_are_rotated(db):
    tenant = TenantFactory(state=Tenant.State.REQUESTED)
    with pytest.raises(CommandError, match="only ready tenants"):
        call_command("tenant_rotate_db_password", tenant.slug)
    with pytest.raises(CommandError, match="No tenant"):
        call_command("tenant_rotate_db_password", "nobody-here")


def test_rotation_stores_sets_restarts_and_audits_without_the_password(kube_cluster, settings, db):
    services.require("MariaDB", services.MARIADB)
    settings.PORTAL_MARIADB_URL = services.MARIADB_URL
    tenant = TenantFactory(state=Tenant.State.READY, slug=f"r{uuid.uuid4().hex[:8]}")
    spec = spec_for(tenant)
    store = KubernetesSecrets(spec)
    database = DatabaseStep(StepContext(spec=spec, secrets=store))
    try:
        for cls in (NamespaceStep, DatabaseStep, WordPressStep):
            step = cls(StepContext(spec=spec, secrets=store))
            for _ in range(3):
                if step.check() == []:
                    break
                if step.apply().status == "waiting":
                    kube_cluster.mark_ready(spec.namespace)
        old = KubernetesSecrets(spec).get(DB_PASSWORD)

        out = StringIO()
        call_command("tenant_rotate_db_password", tenant.slug, stdout=out)

        new = KubernetesSecrets(spec).get(DB_PASSWORD)
        assert new != old and len(new) >= 32
        assert "WordPress restarted" in out.getvalue()
        pymysql.connect(host="127.0.0.1", user=spec.db_user, password=new).close()
        with pytest.raises(pymysql.err.OperationalError):
            pymysql.connect(host="127.0.0.1", user=spec.db_user, password=old)
        template = kube_cluster.get("Deployment", "wordpress", spec.namespace)["spec"]["template"]
        assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]
        event = AuditEvent.objects.get(action=AuditEvent.Action.TENANT_DB_PASSWORD_ROTATED)
        row = json.dumps([event.message, event.before, event.after, event.object_repr])
        assert event.after["wordpress_restarted"] is True
        assert new not in row and old not in row and new not in out.getvalue()
        fresh = DatabaseStep(StepContext(spec=spec, secrets=KubernetesSecrets(spec)))
        assert fresh.check() == []  # the next reconcile finds nothing to do
    finally:
        database.destroy()
