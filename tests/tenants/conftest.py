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


@pytest.fixture
def backups_on(settings):
    """MariaDB and S3 named (nothing listens there): the pages offer backups and clones, as on
    a platform that has them; plan mode, the tests' default, offers neither."""
    settings.PORTAL_MARIADB_URL = "mysql://root:unused@127.0.0.1:1/"
    settings.PORTAL_S3_ENDPOINT_URL = "http://127.0.0.1:1"
