"""Outside requests through a passing outage, against the loopback fakes: idempotent ones are
sent again with backoff inside the budget, Retry-After is honoured, a POST is sent again only
when the server surely didn't take it, and the run says what it waits for."""

import threading
import time

import pytest

from provisioning import engine
from provisioning.drivers.authentik import AuthentikDriver
from provisioning.drivers.ionos import IonosApi
from provisioning.drivers.retry import retry_after, waits_reported_to
from provisioning.errors import Unavailable
from provisioning.spec import spec_for
from provisioning.steps.base import StepContext
from provisioning.steps.namespace import NamespaceStep
from tenants import services
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db
GROUPS = "/api/v3/core/groups/"
USERS = "/cloudapi/v6/um/users"


def hits(fake, method: str, path: str) -> int:
    return sum(1 for m, p in fake.requests if m == method and p.split("?")[0].endswith(path))


@pytest.fixture
def namespace_step(kube_cluster, requester):
    from provisioning.drivers.kubernetes import KubernetesSecrets

    spec = spec_for(TenantFactory(owner=requester, slug="shop"))
    return NamespaceStep(StepContext(spec=spec, secrets=KubernetesSecrets(spec)))


def test_a_read_is_sent_again_until_the_api_server_answers(namespace_step, kube_cluster):
    namespace_step.check()
    reads = hits(kube_cluster, "GET", "/api/v1/namespaces/wp-shop")  # what a check reads
    kube_cluster.fail("GET", r"/namespaces/wp-shop$", 503, times=2)
    told: list[str] = []
    with waits_reported_to(told.append):
        assert namespace_step.check()  # it answered in the end: the namespace is missing
    assert hits(kube_cluster, "GET", "/api/v1/namespaces/wp-shop") == 2 * reads + 2
    assert len(told) == 2
    assert told[0].startswith("waiting for Kubernetes (trying again in 0 s): ")
    assert "answered 503" in told[0]


def test_a_read_rides_out_the_api_server_going_away_and_coming_back(namespace_step, kube_cluster):
    namespace_step.check()  # a kept-alive connection to the server, which going away cuts
    kube_cluster.down()
    threading.Timer(1.0, kube_cluster.up).start()  # restarted on its port a second later
    told: list[str] = []
    with waits_reported_to(told.append):
        assert namespace_step.check()
    assert told and all(t.startswith("waiting for Kubernetes (trying again in ") for t in told)
    assert "didn't answer for reading Namespace wp-shop (NewConnectionError)" in told[0]


def test_retry_after_is_honoured(namespace_step, kube_cluster):
    kube_cluster.fail("GET", r"/namespaces/wp-shop$", 429, times=1)  # the fake says 1 s
    started = time.monotonic()
    namespace_step.check()
    # Backoff alone would have waited 0.05 s at most (tests/settings.py).
    assert time.monotonic() - started >= 1.0


def test_a_wait_longer_than_the_budget_goes_to_the_engine_at_once(
    namespace_step, kube_cluster, settings
):
    settings.PORTAL_REQUEST_RETRY_BUDGET = 5
    kube_cluster.retry_after[503] = "30"
    kube_cluster.fail("GET", r"/namespaces/wp-shop$", 503, times=1)
    started = time.monotonic()
    with pytest.raises(Unavailable) as raised:
        namespace_step.check()
    assert time.monotonic() - started < 2
    assert raised.value.retry_after == 30 and raised.value.system == "Kubernetes"


def test_the_budget_ends_the_retries(namespace_step, kube_cluster, settings):
    settings.PORTAL_REQUEST_RETRY_BUDGET = 1
    kube_cluster.fail("GET", r"/namespaces/wp-shop$", 500, times=1000)
    started = time.monotonic()
    with pytest.raises(Unavailable, match="answered 500"):
        namespace_step.check()
    assert 0.8 <= time.monotonic() - started < 2
    assert hits(kube_cluster, "GET", "/api/v1/namespaces/wp-shop") > 3


def test_a_post_that_failed_is_not_sent_again(authentik_api):
    driver = AuthentikDriver(authentik_api.url, authentik_api.token)
    authentik_api.fail_next(GROUPS, 502, method="POST")
    with pytest.raises(Unavailable, match="Authentik answered 502"):
        driver.group_create("editors", {})
    assert hits(authentik_api, "POST", GROUPS) == 1  # it may have made the group: no second


def test_a_post_refused_with_429_is_sent_again(authentik_api):
    driver = AuthentikDriver(authentik_api.url, authentik_api.token)
    authentik_api.retry_after[429] = "0"
    authentik_api.fail_next(GROUPS, 429, method="POST")
    assert driver.group_create("editors", {}).name == "editors"
    assert hits(authentik_api, "POST", GROUPS) == 2


def test_authentik_reads_ride_out_server_errors(authentik_api):
    driver = AuthentikDriver(authentik_api.url, authentik_api.token)
    authentik_api.fail_next(GROUPS, 500, times=2, method="GET")
    assert driver.group("editors") is None
    assert hits(authentik_api, "GET", GROUPS) == 3


def test_ionos_reads_are_retried_and_a_user_post_is_not(ionos_api):
    api = IonosApi.from_settings()
    ionos_api.fail_next(USERS, 503, times=2, method="GET")
    assert api.user_by_email("nobody@tenants.example.com") is None
    assert hits(ionos_api, "GET", USERS) == 3

    ionos_api.fail_next(USERS, 500, method="POST")
    with pytest.raises(Unavailable, match="answered 500"):
        api.user_create("new@tenants.example.com", "tenant-portal", "new")
    assert hits(ionos_api, "POST", USERS) == 1


def test_a_503_that_says_when_is_taken_as_unread(ionos_api):
    api = IonosApi.from_settings()
    ionos_api.retry_after[503] = "0"
    ionos_api.fail_next(USERS, 503, method="POST")
    assert api.user_create("new@tenants.example.com", "tenant-portal", "new").email
    assert hits(ionos_api, "POST", USERS) == 2


def test_retry_after_as_a_date():
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # in the past: now
    assert retry_after("120") == 120
    assert retry_after("soon") is None and retry_after(None) is None


def test_the_run_waits_for_the_system_at_least_as_long_as_it_asked(
    requester, approver, kube_cluster, settings, django_capture_on_commit_callbacks
):
    settings.PORTAL_STEPS = ["provisioning.steps.namespace.NamespaceStep"]
    kube_cluster.retry_after[503] = "120"
    kube_cluster.fail("GET", r"/namespaces/wp-shop$", 503, times=1)
    tenant = TenantFactory(owner=requester, slug="shop")
    with django_capture_on_commit_callbacks(execute=False):
        services.tenant_approve(tenant_id=tenant.pk, actor=approver)
        delay = engine.reconcile(tenant.pk)
    assert delay >= 120
    run = tenant.runs.get()
    assert run.message.startswith("namespace: waiting for Kubernetes, trying again at ")
    tenant.refresh_from_db()
    assert tenant.state == tenant.State.PROVISIONING  # a passing outage is not a failure
