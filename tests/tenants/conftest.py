"""Fixtures of the tenants app's tests."""

import pytest

from tenants.models import Tenant
from tests.factories import TenantFactory, plan


@pytest.fixture
def medium(requester):
    """A ready tenant "shop" of the requester's on the Medium plan."""
    return TenantFactory(
        owner=requester, slug="shop", state=Tenant.State.READY, plan=plan("medium")
    )
