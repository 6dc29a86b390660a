"""The approval screen's capacity hint: live from the IONOS node pools (fake IONOS API through
the ionoscloud SDK), kept a minute, else the settings with a note saying why."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from provisioning.capacity import cluster_size, plan_capacity_hint
from tests.factories import TenantFactory, plan

pytestmark = pytest.mark.django_db

GIB = 1024


@pytest.fixture
def cluster(ionos_api, settings):
    cluster_id = ionos_api.add_cluster("clusters: []\n")
    ionos_api.add_nodepool(cluster_id, "tenants", nodes=3, cores=4, ram_mib=16 * GIB,
                           autoscaling=(3, 6))  # fmt: skip
    ionos_api.add_nodepool(cluster_id, "system", nodes=1, cores=2, ram_mib=8 * GIB)
    settings.PORTAL_IONOS_CLUSTER_ID = cluster_id
    settings.PORTAL_CLUSTER_CPU_MILLICORES = 1000  # what the live figures replace
    cache.clear()
    yield cluster_id
    cache.clear()


def pool_calls(fake) -> int:
    return sum(1 for _, path in fake.requests if path.endswith("/nodepools"))


def test_the_hint_counts_the_live_node_pools(cluster, ionos_api):
    hint = plan_capacity_hint(plan("small"))

    assert hint.cpu_total_millicores == (3 * 4 + 1 * 2) * 1000
    assert hint.memory_total_mib == 3 * 16 * GIB + 8 * GIB
    assert hint.note == (
        "Live from the IONOS node pools (tenants: 3 nodes of 4 cores and 16 GiB, autoscaling "
        "3–6 nodes; system: 1 node of 2 cores and 8 GiB)."
    )
    plan_capacity_hint(plan("small"))
    assert pool_calls(ionos_api) == 1, "the figures are kept, not fetched per page"


def test_an_unreachable_api_falls_back_to_the_settings_and_says_so(cluster, ionos_api):
    ionos_api.fail_next(f"/cloudapi/v6/k8s/{cluster}/nodepools", 503)
    size = cluster_size()
    assert size.cpu_millicores == 1000
    assert size.note.startswith("From the settings: the IONOS API could not be asked (")
    assert "503" in size.note
    assert cluster_size().cpu_millicores == 14000, "a failure is not kept"


def test_without_the_ionos_api_the_settings_say_it(settings):
    settings.PORTAL_IONOS_TOKEN = ""
    settings.PORTAL_CLUSTER_CPU_MILLICORES = 16000
    assert "the IONOS API is not configured" in cluster_size().note
    settings.PORTAL_CLUSTER_CPU_MILLICORES = 0
    assert plan_capacity_hint(plan("small")) is None


def test_the_approval_page_shows_where_the_figures_come_from(cluster, client_for, approver):
    tenant = TenantFactory(plan=plan("small"))
    page = client_for(approver).get(reverse("tenants:approval", args=[tenant.pk]))

    assert page.status_code == 200
    text = page.content.decode()
    assert "of 14000 millicores" in text
    assert "Live from the IONOS node pools (tenants: 3 nodes" in text
