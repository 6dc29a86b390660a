"""Usage samples: the quotas' status from one cluster-wide list, database sizes from MariaDB."""

from datetime import timedelta

import pymysql
import pytest
from django.utils import timezone

from provisioning import scanlists
from provisioning.manifests.namespace import QUOTA, namespace, resource_quota
from provisioning.spec import spec_for
from tenants import tasks, usage
from tenants.models import Tenant, UsageSample
from tests import services
from tests.factories import TenantFactory, plan

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_lists():
    scanlists.forget()
    yield
    scanlists.forget()


def _built(fake, tenant: Tenant) -> None:
    """The tenant's namespace and quota in the fake, as the namespace step leaves them."""
    spec = spec_for(tenant)
    fake.create(namespace(spec))
    fake.create(resource_quota(spec))


def test_a_sample_is_the_quota_status_used_against_hard_listed_once(kube_cluster, requester):
    shop = TenantFactory(owner=requester, slug="shop", state=Tenant.State.READY, plan=plan())
    blog = TenantFactory(owner=requester, slug="blog", state=Tenant.State.READY, plan=plan())
    waiting = TenantFactory(owner=requester, slug="new", state=Tenant.State.PROVISIONING)
    for tenant in (shop, blog, waiting):
        _built(kube_cluster, tenant)
    used = {"requests.cpu": "650m", "requests.memory": "700Mi", "pods": "3"}
    kube_cluster.quota_used(shop.namespace, QUOTA, {**used, "requests.storage": "5Gi"})
    # blog's quota the controller hasn't counted yet: no sample rather than a sample of zeros
    before = len(kube_cluster.requests)

    tasks.sample_usage()

    lists = [r for r in kube_cluster.requests[before:] if "resourcequotas" in r[1]]
    assert lists == [("GET", "/api/v1/resourcequotas")]  # one list, no GET per tenant
    [sample] = UsageSample.objects.all()
    assert sample.tenant == shop and sample.plan.name == "small"
    assert sample.used == {
        "cpu": 650,
        "memory": 700 * 2**20,
        "pods": 3,
        "storage": 5 * 2**30,
    }
    # small: 1 replica + 2 spare pods of 250m / 256Mi; pods max(6, 3)
    assert sample.hard == {"cpu": 750, "memory": 768 * 2**20, "pods": 6, "storage": 5 * 2**30}


def test_samples_older_than_the_window_are_pruned_and_plan_mode_samples_nothing(
    settings, requester
):
    tenant = TenantFactory(owner=requester, state=Tenant.State.READY)
    old = timezone.now() - timedelta(days=settings.PORTAL_UPSIZE_RULE_WINDOW_DAYS + 2)
    UsageSample.objects.create(tenant=tenant, plan=tenant.plan, taken_at=old, used={}, hard={})
    recent = timezone.now() - timedelta(days=3)
    UsageSample.objects.create(tenant=tenant, plan=tenant.plan, taken_at=recent, used={}, hard={})
    assert usage.usage_sample_all() == 0  # no kubeconfig: nothing to measure
    assert list(UsageSample.objects.values_list("taken_at", flat=True)) == [recent]


def test_the_database_size_is_measured_against_the_plans_storage(kube_cluster, settings, requester):
    services.require("MariaDB", services.MARIADB)
    settings.PORTAL_MARIADB_URL = services.MARIADB_URL
    tenant = TenantFactory(
        owner=requester, slug="usage-db", state=Tenant.State.READY, plan=plan("medium")
    )
    _built(kube_cluster, tenant)
    kube_cluster.quota_used(tenant.namespace, QUOTA, {"requests.cpu": "500m", "pods": "1"})
    conn = pymysql.connect(host="127.0.0.1", port=3306, user="root", autocommit=True)
    try:
        with conn.cursor() as c:
            c.execute("DROP DATABASE IF EXISTS wp_usage_db")
            c.execute("CREATE DATABASE wp_usage_db")
            c.execute("CREATE TABLE wp_usage_db.wp_posts (id INT PRIMARY KEY, body LONGTEXT)")
            c.execute("INSERT INTO wp_usage_db.wp_posts VALUES (1, REPEAT('x', 100000))")
            c.execute("ANALYZE TABLE wp_usage_db.wp_posts")
        assert usage.usage_sample_all() == 1
    finally:
        with conn.cursor() as c:
            c.execute("DROP DATABASE IF EXISTS wp_usage_db")
        conn.close()
    sample = UsageSample.objects.get()
    assert sample.used["database"] > 0 and sample.hard["database"] == 20 * 2**30
    assert sample.used["cpu"] == 500 and "memory" not in sample.used
