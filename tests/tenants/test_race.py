"""Two admins deciding one request at the same moment, each on its own PostgreSQL connection."""

import threading

import pytest
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from provisioning.models import Run
from tenants.audit import audit_verify
from tenants.models import AuditEvent, Tenant
from tests.factories import TenantFactory, UserFactory, plan

pytestmark = pytest.mark.django_db(transaction=True)


def race(posts: dict) -> dict:
    """POST each client's data at once from its own thread; the pages they land on, by name."""
    barrier = threading.Barrier(len(posts))
    pages, errors = {}, []

    def decide(name, client, url, data):
        try:
            barrier.wait(timeout=10)
            pages[name] = client.post(url, data, follow=True).content.decode()
        except Exception as exc:  # reported below: a thread's exception would vanish
            errors.append(exc)
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=decide, args=(n, *args)) for n, args in posts.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return pages


@pytest.fixture
def contenders(eager_celery):
    assert connection.vendor == "postgresql"
    owner = UserFactory(username="alice", role="requester")
    tenant = TenantFactory(owner=owner, slug="contested", plan=plan("small"))
    clients = {}
    for name in ("carol", "dave"):
        client = Client()
        client.force_login(UserFactory(username=name, role="approver"))
        clients[name] = client
    yield tenant, clients
    connections.close_all()


def test_two_approvals_one_wins(contenders):
    tenant, clients = contenders
    url = reverse("tenants:approval", args=[tenant.pk])
    pages = race({name: (c, url, {"decision": "approve"}) for name, c in clients.items()})

    tenant.refresh_from_db()
    winner = tenant.decided_by.username
    loser = "dave" if winner == "carol" else "carol"
    assert "Approved contested; provisioning starts now." in pages[winner]
    assert f"This request was already decided by {winner}" in pages[loser]
    assert AuditEvent.objects.filter(action="tenant.approved").count() == 1
    assert AuditEvent.objects.get(action="tenant.approved").actor_name == winner
    assert Run.objects.filter(tenant=tenant).count() == 1
    assert tenant.state == Tenant.State.READY, tenant.last_error
    # Writers from both threads still form one unbroken chain.
    assert audit_verify()[1] is None


def test_approve_and_reject_race_one_decision_counts(contenders):
    tenant, clients = contenders
    url = reverse("tenants:approval", args=[tenant.pk])
    pages = race(
        {
            "carol": (clients["carol"], url, {"decision": "approve"}),
            "dave": (clients["dave"], url, {"decision": "reject", "reason": "Too big."}),
        }
    )
    tenant.refresh_from_db()
    decisions = AuditEvent.objects.filter(action__in=["tenant.approved", "tenant.rejected"])
    assert decisions.count() == 1
    loser = "dave" if tenant.decided_by.username == "carol" else "carol"
    assert "This request was already decided by" in pages[loser]
    if tenant.state == Tenant.State.REJECTED:
        assert not Run.objects.filter(tenant=tenant).exists()
        assert tenant.rejection_reason == "Too big."
    else:
        assert tenant.rejection_reason == ""
