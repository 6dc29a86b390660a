"""Asking for a WordPress upgrade: offered versions only, forwards only, ready tenants only."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from portal.errors import ApplicationError
from provisioning.models import Run
from tenants import suspension, upgrade
from tenants.models import AuditEvent, Tenant
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ready(requester):
    return TenantFactory(
        owner=requester, slug="shop", state=Tenant.State.READY, wordpress_version="6.6"
    )


def test_owner_upgrades_from_the_page(client, requester, ready):
    client.force_login(requester)
    page = client.get(ready.get_absolute_url()).content.decode()
    assert 'id="btn-upgrade"' in page and '<option value="6.8">' in page
    assert '<option value="6.6">' not in page
    client.post(reverse("tenants:upgrade", args=[ready.pk]), {"version": "6.8"})
    ready.refresh_from_db()
    assert ready.wordpress_version == "6.8" and ready.upgrade_from == "6.6"
    assert Run.objects.filter(tenant=ready, reason="upgrade").exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_UPGRADE_REQUESTED).exists()


def test_an_unoffered_version_is_refused_and_audited(requester, ready):
    with pytest.raises(ApplicationError, match="Choose one of the offered versions"):
        upgrade.tenant_upgrade(tenant=ready, actor=requester, version="9.9")
    refusal = AuditEvent.objects.get(action=AuditEvent.Action.TENANT_REFUSED)
    assert refusal.message.startswith("upgrade:")
    assert not Run.objects.filter(tenant=ready).exists()


def test_back_and_same_versions_are_refused_in_words(requester, ready):
    Tenant.objects.filter(pk=ready.pk).update(wordpress_version="6.7")
    ready.refresh_from_db()
    with pytest.raises(ValidationError, match="can't go back from 6.7 to 6.6"):
        upgrade.tenant_upgrade(tenant=ready, actor=requester, version="6.6")
    with pytest.raises(ValidationError, match="already runs WordPress 6.7"):
        upgrade.tenant_upgrade(tenant=ready, actor=requester, version="6.7")


def test_busy_and_suspended_tenants_are_not_upgraded(requester):
    busy = TenantFactory(owner=requester, state=Tenant.State.PROVISIONING, wordpress_version="6.6")
    with pytest.raises(ApplicationError, match="Only a ready tenant can be upgraded"):
        upgrade.tenant_upgrade(tenant=busy, actor=requester, version="6.8")
    resting = TenantFactory(owner=requester, state=Tenant.State.READY, wordpress_version="6.6")
    suspension.tenant_suspend(tenant=resting, actor=requester)
    resting.refresh_from_db()
    with pytest.raises(ApplicationError, match="resume it first"):
        upgrade.tenant_upgrade(tenant=resting, actor=requester, version="6.8")
