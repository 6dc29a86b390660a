"""Typed confirmations (delete, restore, promote) take the name exactly, said beside the field."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from tenants import promote
from tenants.models import Backup, Tenant
from tests import services as svc
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db
IN_CAPITALS = (
    "Type the tenant&#x27;s name, shop, exactly as shown, in lower-case letters, to confirm."
)


def _refused_beside_the_field(answer, typed: str, words: str) -> None:
    assert answer.status_code == 400
    page = answer.content.decode()
    assert f'<p class="error" id="confirm_slug_error" role="alert">{words}</p>' in page
    assert f'name="confirm_slug" value="{typed}"' in page  # what was typed stays
    assert 'aria-describedby="confirm_slug_error"' in page


@pytest.mark.parametrize("typed", ["SHOP", "Shop"])
def test_delete_takes_the_name_exactly_not_in_capitals(client_for, requester, typed):
    tenant = TenantFactory(owner=requester, slug="shop", state=Tenant.State.READY)
    client = client_for(requester)
    url = reverse("tenants:delete", args=[tenant.pk])
    _refused_beside_the_field(client.post(url, {"confirm_slug": typed}), typed, IN_CAPITALS)
    tenant.refresh_from_db()
    assert tenant.desired_present and tenant.delete_after is None
    wrong = client.post(url, {"confirm_slug": "shoq"})
    _refused_beside_the_field(wrong, "shoq", "Type the tenant&#x27;s name, shop, to confirm.")

    assert client.post(url, {"confirm_slug": " shop "}).status_code == 302
    tenant.refresh_from_db()
    assert not tenant.desired_present  # a paste's spaces are forgiven


def test_restore_takes_the_name_exactly_not_in_capitals(client_for, requester):
    tenant = TenantFactory(owner=requester, slug="shop", state=Tenant.State.READY)
    item = Backup.objects.create(tenant=tenant, state=Backup.State.DONE, reason="manual")
    url = reverse("tenants:restore", args=[tenant.pk, item.pk])
    answer = client_for(requester).post(url, {"confirm_slug": "SHOP"})
    _refused_beside_the_field(answer, "SHOP", IN_CAPITALS)
    tenant.refresh_from_db()
    assert not tenant.restoring


def test_promote_takes_the_originals_name_exactly(client_for, requester, settings):
    settings.PORTAL_MARIADB_URL = svc.MARIADB_URL  # promoting needs both; nothing connects
    settings.PORTAL_S3_ENDPOINT_URL = "http://127.0.0.1:9"
    source = TenantFactory(owner=requester, slug="shop", state=Tenant.State.READY)
    staging = TenantFactory(
        owner=requester,
        slug="shop-staging",
        state=Tenant.State.READY,
        clone_of=source,
        cloned_at=timezone.now(),
    )
    with pytest.raises(ValidationError, match="exactly as shown, in lower-case letters"):
        promote.tenant_promote(tenant=staging, actor=requester, confirm_slug="SHOP")
    answer = client_for(requester).post(
        reverse("tenants:promote", args=[staging.pk]), {"confirm_slug": "Shop"}
    )
    words = "Type the name of the site overwritten, shop, exactly as shown, in lower-case letters"
    assert answer.status_code == 400 and words in answer.content.decode()
    assert 'value="Shop"' in answer.content.decode()
    source.refresh_from_db()
    assert not source.restoring
