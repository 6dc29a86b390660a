"""The lists cost the same few queries however many tenants they show (no query per row)."""

import pytest
from django.urls import reverse

from tests.factories import TenantFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def fifty_tenants(settings):
    settings.PORTAL_PAGE_SIZE = 50
    owners = [UserFactory(username=f"owner{i}", role="requester") for i in range(10)]
    return [TenantFactory(owner=owners[i % 10], slug=f"many-{i:02d}") for i in range(50)]


@pytest.mark.parametrize("sort", ["-created", "owner", "plan"])
def test_tenant_list_of_fifty_takes_a_fixed_few_queries(
    client, approver, fifty_tenants, django_assert_max_num_queries, sort
):
    client.force_login(approver)
    with django_assert_max_num_queries(10):
        page = client.get(reverse("tenants:list"), {"sort": sort}).content.decode()
    assert page.count('href="/tenants/') >= 50 and "owner9" in page


def test_own_list_of_fifty_takes_a_fixed_few_queries(
    client, settings, django_assert_max_num_queries
):
    settings.PORTAL_PAGE_SIZE = 50
    settings.PORTAL_MAX_TENANTS_PER_USER = 100
    me = UserFactory(username="prolific", role="requester")
    for i in range(50):
        TenantFactory(owner=me, slug=f"mine-{i:02d}")
    client.force_login(me)
    with django_assert_max_num_queries(10):
        page = client.get(reverse("tenants:list")).content.decode()
    assert "mine-49" in page


def test_approval_queue_of_fifty_takes_a_fixed_few_queries(
    client, approver, fifty_tenants, django_assert_max_num_queries
):
    client.force_login(approver)
    with django_assert_max_num_queries(10):
        page = client.get(reverse("tenants:approvals")).content.decode()
    assert "50 waiting" in page and "many-49" in page
