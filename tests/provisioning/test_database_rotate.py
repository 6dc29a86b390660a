"""tenant_rotate_db_password: what it refuses, and that it never runs half-configured."""

import pytest
from django.core.management import CommandError, call_command

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
