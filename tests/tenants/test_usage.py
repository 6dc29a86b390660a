"""Usage samples: the quotas' status and the web pods' real use (the Metrics API) from one
cluster-wide list each, database sizes from MariaDB."""

from datetime import timedelta

import pymysql
import pytest
from django.urls import reverse
from django.utils import timezone

from provisioning import scanlists
from provisioning.manifests.common import COMPONENT_WEB, labels
from provisioning.manifests.namespace import QUOTA, namespace, resource_quota
from provisioning.podmetrics import NOT_SERVED
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


def _web_labels(tenant: Tenant, component: str = COMPONENT_WEB) -> dict:
    return labels(spec_for(tenant), component)


def test_real_use_is_the_web_pods_metrics_from_one_list_against_the_plans_limits(
    kube_cluster, requester
):
    shop = TenantFactory(owner=requester, slug="shop", state=Tenant.State.READY, plan=plan())
    _built(kube_cluster, shop)
    kube_cluster.quota_used(shop.namespace, QUOTA, {"requests.cpu": "250m", "pods": "1"})
    web = _web_labels(shop)
    usage_a = {"wordpress": {"cpu": "200000000n", "memory": "102400Ki"}}
    kube_cluster.pod_usage(shop.namespace, "wordpress-a", usage_a, web)
    usage_b = {"wordpress": {"cpu": "12m", "memory": "1Mi"}, "exporter": {"cpu": "3000000n"}}
    kube_cluster.pod_usage(shop.namespace, "wordpress-b", usage_b, web)
    # A backup Job's pod carries the portal's label too; its burst says nothing of the need.
    job = {"backup": {"cpu": "900m", "memory": "1Gi"}}
    kube_cluster.pod_usage(shop.namespace, "backup-x", job, _web_labels(shop, "backup"))
    before = len(kube_cluster.requests)

    tasks.sample_usage()

    lists = [r for r in kube_cluster.requests[before:] if "metrics.k8s.io" in r[1]]
    assert lists == [("GET", "/apis/metrics.k8s.io/v1beta1/pods")]  # one list, all namespaces
    sample = UsageSample.objects.get()
    # the backup pod's 900m left out by the list's labelSelector (the web component's)
    assert sample.used["cpu_use"] == 200 + 12 + 3
    assert sample.used["memory_use"] == 100 * 2**20 + 2**20
    p = shop.plan
    assert sample.hard["cpu_use"] == p.replicas * p.cpu_limit_millicores
    assert sample.hard["memory_use"] == p.replicas * p.memory_limit_mib * 2**20
    assert sample.use_note == "" and sample.used["cpu"] == 250


def test_without_the_metrics_api_the_sample_has_requests_and_says_why(kube_cluster, requester):
    shop = TenantFactory(owner=requester, slug="shop", state=Tenant.State.READY, plan=plan())
    _built(kube_cluster, shop)
    kube_cluster.quota_used(shop.namespace, QUOTA, {"requests.cpu": "250m", "pods": "1"})
    kube_cluster.metrics_api = False

    tasks.sample_usage()

    sample = UsageSample.objects.get()
    assert "cpu_use" not in sample.used and sample.used["cpu"] == 250
    assert sample.use_note == NOT_SERVED


def _web_pods(fake, tenant: Tenant, cpu: list[str], memory: list[str]) -> None:
    """metrics-server's figures for the tenant's web pods, one pod per value."""
    for i, (c, m) in enumerate(zip(cpu, memory, strict=True)):
        usage = {"wordpress": {"cpu": c, "memory": m}}
        fake.pod_usage(tenant.namespace, f"wordpress-7d9f-{i}", usage, _web_labels(tenant))


def test_a_metrics_api_refusing_or_without_the_pods_figures_is_said_in_the_sample(
    kube_cluster, requester
):
    shop = TenantFactory(owner=requester, slug="shop", state=Tenant.State.READY, plan=plan())
    _built(kube_cluster, shop)
    kube_cluster.quota_used(shop.namespace, QUOTA, {"requests.cpu": "500m"})
    kube_cluster.fail("GET", "metrics.k8s.io", 403, message="pods.metrics.k8s.io is forbidden")
    tasks.sample_usage()
    sample = UsageSample.objects.get()
    assert (
        sample.use_note.startswith("The Metrics API didn't answer: ") and "403" in sample.use_note
    )
    assert sample.used == {"cpu": 500}

    tasks.sample_usage()  # answered, but metrics-server hasn't scraped the site's pods yet
    latest = UsageSample.objects.first()
    assert latest.used == {"cpu": 500} and "no figures for the site's pods" in latest.use_note


def test_real_use_sampled_from_the_metrics_api_moves_the_plan_by_the_rule(
    kube_cluster, settings, client, requester
):
    settings.PORTAL_USAGE_SAMPLE_INTERVAL = 86400  # one sample fills a one-day window
    settings.PORTAL_UPSIZE_RULE_WINDOW_DAYS = 1
    shop = TenantFactory(
        owner=requester, slug="shop", state=Tenant.State.READY, plan=plan("medium")
    )
    _built(kube_cluster, shop)
    kube_cluster.quota_used(shop.namespace, QUOTA, {"requests.cpu": "1", "requests.memory": "1Gi"})
    _web_pods(kube_cluster, shop, ["920m", "880m"], ["600Mi", "500Mi"])  # 90 % of 2 x 1000m
    tasks.sample_usage()
    client.force_login(requester)
    client.post(reverse("tenants:plan", args=[shop.pk]), {"plan": plan("large").pk})
    shop.refresh_from_db()
    assert shop.plan.name == "large" and shop.requested_plan is None
    assert shop.plan_evidence["measure"] == "use"
    assert shop.plan_evidence["verdict"] == (
        "Met: CPU use at 90 % average over 1 days, at or above 85 %."
    )
    assert (
        "CPU requests: 50 % on average, 50 % at most (not counted: real use is measured)"
        in (shop.plan_evidence["measures"])
    )
