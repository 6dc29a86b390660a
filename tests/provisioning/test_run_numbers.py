"""A run has one number wherever it is named: the tenant's history, its page and the API."""

import threading

import pytest
from django.db import connection, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.urls import reverse
from rest_framework.test import APIClient

from api.tokens import token_create
from bench.engine import new_tenant, platform
from provisioning import engine
from provisioning.models import Run
from provisioning.runs import run_request
from tenants.audit import audit_record
from tenants.models import AuditEvent
from tests.factories import TenantFactory, UserFactory, plan

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_history_names_the_run_by_the_number_the_page_shows(tmp_path, client):
    TenantFactory(slug="before")  # other tenants' runs take ids, not this tenant's numbers
    for _ in range(2):
        run_request(tenant=TenantFactory(), action=Run.Action.APPLY, reason="approved")
    owner = UserFactory(role="requester")
    tenant = new_tenant(owner, plan("small"), "numbered")
    run = run_request(tenant=tenant, action=Run.Action.APPLY, reason="approved")
    assert run.number == 1 and run.pk > 1
    with platform(tmp_path, latency=0.0) as (kube, _authentik):
        for _ in range(5):
            if engine.reconcile(tenant.pk) is None:
                break
            kube.mark_ready()
            Run.objects.filter(tenant=tenant).update(not_before=None)
    messages = set(
        AuditEvent.objects.filter(object_type="tenant", object_id=str(tenant.pk)).values_list(
            "message", flat=True
        )
    )
    assert {"Run #1 started (approved).", "Run #1 finished."} <= messages
    client.force_login(owner)
    assert "Provision run #1 (approved" in client.get(tenant.get_absolute_url()).content.decode()
    _, token = token_create(user=owner, name="numbers", days=1)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    listed = api.get(reverse("api:run-list"), {"tenant": tenant.pk}).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [(r["id"], r["number"]) for r in rows if r["tenant"] == tenant.pk] == [(run.pk, 1)]


@pytest.mark.parametrize(
    ("first", "second", "numbers"),
    [(Run.Action.APPLY, Run.Action.CHECK, [1, 2]), (Run.Action.APPLY, Run.Action.APPLY, [1])],
)
def test_two_runs_asked_for_at_once_never_share_a_number(first, second, numbers):
    """Two requests for one tenant, each in its own transaction on its own connection: the
    second reads the tenant's runs (the same Max) while the first's run is not committed. It
    waits for that run, then takes the next number, or the run itself if it is the same act,
    still pending."""
    tenant = TenantFactory()
    inserted, commit, asked = threading.Event(), threading.Event(), {}

    def ask(name: str, action: str) -> None:
        try:
            with transaction.atomic():
                asked[name] = run_request(tenant=tenant, action=action, reason=name).pk
                if name == "one":  # held open: its run is not yet seen by the other
                    inserted.set()
                    commit.wait(10)
        finally:
            connections.close_all()

    one = threading.Thread(target=ask, args=("one", first))
    one.start()
    assert inserted.wait(10)
    two = threading.Thread(target=ask, args=("two", second))
    two.start()
    two.join(1.0)
    waited = two.is_alive()
    commit.set()
    one.join(10)
    two.join(10)
    assert sorted(Run.objects.filter(tenant=tenant).values_list("number", flat=True)) == numbers
    assert waited  # for the first run's INSERT (the number it took), not past it
    assert (asked["one"] == asked["two"]) == (first == second)


def test_the_migration_gives_runs_that_shared_a_number_new_ones_in_created_order():
    """Before the numbers were unique, runs asked for at once could share one: the first made
    keeps it, each later one takes the tenant's next, and every other number stays."""
    executor = MigrationExecutor(connection)
    executor.migrate([("provisioning", "0008_run_number")])
    try:
        tenant, other = TenantFactory(slug="shared"), TenantFactory(slug="other")
        made = [
            Run.objects.create(tenant=t, action=Run.Action.APPLY, reason="approved", number=n)
            for t, n in (
                (tenant, 1),
                (tenant, 2),
                (tenant, 2),
                (other, 1),
                (tenant, 1),
                (tenant, 3),
            )
        ]
    finally:
        executor = MigrationExecutor(connection)  # forward again, to every latest migration
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert [Run.objects.get(pk=r.pk).number for r in made] == [1, 2, 4, 1, 5, 3]


def test_a_run_asked_for_after_an_audit_event_never_deadlocks_with_one_asked_before():
    """One request asks for a run, then records its event (a reconcile); the other records its
    event first, then asks for a run of the same tenant (an upgrade without a backup). Were the
    first's number awaited by the second while the second held the audit chain's lock, each
    would wait for the other and PostgreSQL would fail one (a 500). The run's INSERT takes the
    chain's lock first: the second waits at its event instead, and both go through."""
    tenant = TenantFactory()
    asked_first, audited_second, outcome = threading.Event(), threading.Event(), {}

    def ask(name: str) -> None:
        try:
            with transaction.atomic():
                if name == "run first":
                    outcome[name] = run_request(tenant=tenant, action=Run.Action.APPLY, reason=name)
                    asked_first.set()
                    audited_second.wait(2)  # the other records its event meanwhile, if it can
                    audit_record(action="tenant.reconcile", obj=tenant, message=name)
                else:
                    asked_first.wait(10)
                    audit_record(action="tenant.upgrade", obj=tenant, message=name)
                    audited_second.set()
                    outcome[name] = run_request(tenant=tenant, action=Run.Action.CHECK, reason=name)
        except Exception as exc:  # noqa: BLE001 - what the request would have shown
            outcome[name] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ask, args=(n,)) for n in ("run first", "audit first")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert all(isinstance(outcome.get(n), Run) for n in ("run first", "audit first")), outcome
    assert sorted(Run.objects.filter(tenant=tenant).values_list("number", flat=True)) == [1, 2]
    assert AuditEvent.objects.filter(object_id=str(tenant.pk)).count() == 2
