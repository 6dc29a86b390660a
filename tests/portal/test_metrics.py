"""/metrics: behind its token, the named series, and values that move as a tenant is built."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from provisioning.models import Run, StepRun
from tenants import services
from tenants.models import Backup, Tenant
from tests import services as svc
from tests.factories import TenantFactory, plan

TOKEN = "scrape-token-for-tests"
SERIES = {
    "portal_http_requests",
    "portal_http_request_duration_seconds",
    "portal_tenants",
    "portal_pending_approvals",
    "portal_pending_approval_oldest_age_seconds",
    "portal_run_queue_length",
    "portal_run_queue_oldest_wait_seconds",
    "portal_runs_open",
    "portal_runs_finished",
    "portal_run_duration_seconds",
    "portal_step_duration_seconds",
    "portal_step_failures",
    "portal_drift_found",
    "portal_drift_repaired",
    "portal_backup_age_seconds",
    "portal_tenants_without_backup",
    "portal_backup_max_age_seconds",
    "portal_backup_overdue",
    "portal_worker_heartbeat_age_seconds",
    "portal_worker_heartbeat_stale_after_seconds",
}


@pytest.fixture
def scrape(client, settings):
    settings.PORTAL_METRICS_TOKEN = TOKEN

    def read() -> dict[tuple[str, tuple], float]:
        response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        samples = {}
        for family in text_string_to_metric_families(response.content.decode()):
            samples[(family.name, ())] = None  # the family is there, samples or not
            for sample in family.samples:
                samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return samples

    return read


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_are_off_without_a_token(client, db):
    assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize("header", ["", "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x"])
def test_metrics_want_the_token(client, settings, db, header):
    settings.PORTAL_METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert b"portal_" not in response.content


def test_every_named_series_is_there(scrape, requester):
    TenantFactory(owner=requester)
    samples = scrape()
    families = {name for name, labels in samples if labels == ()}
    assert SERIES <= families, SERIES - families


def test_values_move_as_a_tenant_is_requested_and_provisioned(
    scrape, client, requester, approver, eager_celery, django_capture_on_commit_callbacks
):
    before = scrape()
    assert value(before, "portal_pending_approvals") == 0

    with django_capture_on_commit_callbacks(execute=True):
        tenant = services.tenant_request_submit(
            owner=requester,
            slug="metered",
            display_name="Metered",
            plan=plan("small"),
            wordpress_version="6.8",
            admin_email="a@example.com",
        )
    requested = scrape()
    assert value(requested, "portal_pending_approvals") == 1
    assert value(requested, "portal_tenants", state="requested", plan="small") == 1
    assert value(requested, "portal_pending_approval_oldest_age_seconds") > 0

    with django_capture_on_commit_callbacks(execute=True):
        services.tenant_approve(tenant_id=tenant.pk, actor=approver)
    built = scrape()

    assert value(built, "portal_pending_approvals") == 0
    assert value(built, "portal_tenants", state="requested", plan="small") == 0
    assert value(built, "portal_tenants", state="ready", plan="small") == 1
    assert value(built, "portal_runs_finished_total", action="apply", status="succeeded") == 1
    assert value(built, "portal_run_duration_seconds_count", action="apply") == 1
    for step in ("namespace", "database", "sso", "storage", "wordpress", "network"):
        assert value(built, "portal_step_duration_seconds_count", step=step) == 1
        inf = value(built, "portal_step_duration_seconds_bucket", step=step, le="+Inf")
        assert inf == 1
    # The scrapes themselves were counted under the view's name, not its path.
    assert value(built, "portal_http_requests_total", view="metrics", method="GET", status="200")


def test_a_failed_step_counts_by_step_and_kind(scrape, requester):
    tenant = TenantFactory(owner=requester, state="failed")
    run = Run.objects.create(tenant=tenant, action="apply", reason="approved", status="failed")
    for position, (name, error) in enumerate(
        [
            ("database", "Access denied (gave up after 8 attempts)"),
            ("sso", "gave up after waiting 900 seconds: rollout"),
            ("storage", "internal error (KeyError); see the worker log."),
            ("wordpress", "The host is taken by another Ingress."),
        ]
    ):
        StepRun.objects.create(run=run, name=name, position=position, status="failed", error=error)

    samples = scrape()

    assert value(samples, "portal_step_failures_total", step="database", error_class="transient")
    assert value(samples, "portal_step_failures_total", step="sso", error_class="wait_timeout")
    assert value(samples, "portal_step_failures_total", step="storage", error_class="internal")
    assert value(samples, "portal_step_failures_total", step="wordpress", error_class="refused")


def test_the_queue_shows_a_run_no_worker_took(scrape, requester):
    tenant = TenantFactory(owner=requester, state="approved")
    Run.objects.create(tenant=tenant, action="apply", reason="approved")

    samples = scrape()

    assert value(samples, "portal_run_queue_length") == 1
    assert value(samples, "portal_runs_open", status="pending") == 1


def test_prometheus_scrapes_the_pod_by_address_over_plain_http(client, settings, db):
    # A ServiceMonitor sends the pod's address as Host and cannot change it; production
    # redirects other plain-HTTP requests to HTTPS.
    settings.PORTAL_METRICS_TOKEN = TOKEN
    settings.SECURE_SSL_REDIRECT = True
    response = client.get(
        "/metrics", HTTP_HOST="10.42.0.17:8000", HTTP_AUTHORIZATION=f"Bearer {TOKEN}"
    )
    assert response.status_code == 200 and b"portal_tenants" in response.content
    assert client.get("/", HTTP_HOST="10.42.0.17:8000").status_code == 400
    assert client.get("/metrics", HTTP_HOST="10.42.0.17:8000").status_code == 401


def test_backup_age_per_ready_tenant(scrape, requester):
    backed = TenantFactory(owner=requester, state=Tenant.State.READY)
    TenantFactory(owner=requester, state=Tenant.State.READY)  # never backed up
    done = Backup.objects.create(tenant=backed, state=Backup.State.DONE)
    Backup.objects.filter(pk=done.pk).update(finished_at=timezone.now() - timedelta(hours=30))
    Backup.objects.create(tenant=backed, state=Backup.State.FAILED)  # a failure is no backup

    samples = scrape()
    age = value(samples, "portal_backup_age_seconds", tenant=backed.slug)
    assert 30 * 3600 <= age < 30 * 3600 + 60
    assert value(samples, "portal_tenants_without_backup") == 1


def test_overdue_by_each_tenants_plan_rpo_as_the_page_says(scrape, client, requester):
    from tenants.models import Plan

    roomy = plan("large")
    Plan.objects.filter(pk=roomy.pk).update(backup_max_age_hours=48)
    strict = TenantFactory(owner=requester, state=Tenant.State.READY)  # small: 24 h
    relaxed = TenantFactory(owner=requester, state=Tenant.State.READY, plan=roomy)
    never = TenantFactory(owner=requester, state=Tenant.State.READY)
    Tenant.objects.filter(pk=never.pk).update(created_at=timezone.now() - timedelta(hours=25))
    for tenant in (strict, relaxed):
        done = Backup.objects.create(tenant=tenant, state=Backup.State.DONE)
        Backup.objects.filter(pk=done.pk).update(created_at=timezone.now() - timedelta(hours=30))

    samples = scrape()
    overdue = {
        t.slug: value(samples, "portal_backup_overdue", tenant=t.slug)
        for t in (strict, relaxed, never)
    }
    assert overdue == {strict.slug: 1, relaxed.slug: 0, never.slug: 1}
    assert value(samples, "portal_backup_max_age_seconds", tenant=relaxed.slug) == 48 * 3600
    client.force_login(requester)
    for tenant in (strict, relaxed, never):
        page = client.get(tenant.get_absolute_url()).content.decode()
        assert ('id="backup-overdue"' in page) == bool(overdue[tenant.slug]), tenant.slug


def test_no_heartbeat_ever_is_an_infinite_age(scrape, settings, db):
    from django.core.cache import cache

    from portal import heartbeat

    cache.delete(heartbeat.KEY)
    settings.PORTAL_WORKER_STALE_AFTER = 240
    samples = scrape()
    queue = settings.PORTAL_PROVISIONING_QUEUE
    assert value(samples, "portal_worker_heartbeat_age_seconds", queue=queue) == float("inf")
    assert value(samples, "portal_worker_heartbeat_stale_after_seconds", queue=queue) == 240


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_age_follows_a_real_worker(scrape, settings, tmp_path):
    """What /readyz sees reaches Prometheus: young while a worker runs, growing once it stops."""
    from django.core.cache import cache

    from portal import heartbeat
    from tests.workers import Worker, wait_until, worker_env

    svc.require("Redis", svc.REDIS)
    cache.delete(heartbeat.KEY)
    queue = settings.PORTAL_PROVISIONING_QUEUE

    def age() -> float:
        return value(scrape(), "portal_worker_heartbeat_age_seconds", queue=queue)

    worker = Worker(worker_env({}), tmp_path / "worker.log", "metrics")
    try:
        wait_until(lambda: age() < 5, 30, "the worker's heartbeat on /metrics", worker.log)
    finally:
        worker.stop()
    settings.PORTAL_WORKER_STALE_AFTER = 1
    wait_until(lambda: age() > 1, 10, "the heartbeat to age past staleness")
    assert value(scrape(), "portal_worker_heartbeat_stale_after_seconds", queue=queue) == 1
