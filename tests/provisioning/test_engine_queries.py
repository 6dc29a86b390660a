"""Issue 14: what one new tenant's provisioning costs the portal's database, query by query."""

from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.engine import new_tenant, platform
from provisioning import engine
from provisioning.locks import lock_release
from provisioning.models import Run, StepRun
from provisioning.passread import leased_run
from provisioning.runs import run_request
from provisioning.spec import spec_for
from provisioning.stepwrites import steps_claiming, steps_park, steps_update
from tenants.models import Tenant, TenantHost, TenantMember
from tests.factories import TenantFactory, UserFactory, plan

# Real transactions (no test-wide one around them, so no savepoints): counted as in production.
pytestmark = pytest.mark.django_db(transaction=True)


def kind(sql: str) -> str:
    words = sql.split()
    if words[0] == "WITH":
        return f"WITH {words[1]}"  # named by its first clause
    return " ".join(words[:3]) if words[0] in ("UPDATE", "INSERT") else words[0]


def test_one_provisioning_takes_28_queries(tmp_path, monkeypatch):
    """The request and the three passes of a new tenant (the apply, the rollout, the update-db
    Job) against the test servers; README's bench section says what each query is for. It was
    89 (86 of them the portal's, as counted here: the request's and the engine's), then 45, 43,
    30."""
    # A step running past a second writes its log lines early (one more fenced write): on a
    # loaded machine one might, which is not what this counts.
    monkeypatch.setattr(engine, "LOG_FLUSH_SECONDS", 3600.0)
    tenant = new_tenant(UserFactory(role="requester"), plan("small"), "counted")
    sql: list[str] = []
    with platform(tmp_path, latency=0.0) as (kube, _authentik):
        with CaptureQueriesContext(connection) as ran:
            run_request(tenant=tenant, action=Run.Action.APPLY, reason="approved")
        sql += [q["sql"] for q in ran]
        for _ in range(5):
            with CaptureQueriesContext(connection) as ran:
                left = engine.reconcile(tenant.pk)
            sql += [q["sql"] for q in ran]
            if left is None:
                break
            kube.mark_ready()  # the rollout, then the update-db Job, done
            Run.objects.filter(tenant=tenant).update(not_before=None)  # the wait has passed
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY, tenant.last_error
    by_kind = Counter(kind(q) for q in sql)
    # Two transactions in all: the run's start (its claim, the tenant's state, an audit event,
    # the step rows with the first started) and its end (the same, and the last outcome).
    assert by_kind["BEGIN"] == by_kind["COMMIT"] == 2
    # Every other step start (with the outcome before it): one statement.
    assert by_kind['UPDATE "provisioning_steprun" SET'] == 6
    # A pause (its step, the run parked, the lease let go) and the question whether another
    # run waits (with the lease let go): one statement each, its writes in a WITH clause.
    assert by_kind["WITH parked"] == 2 and by_kind["WITH released"] == 1
    # Each pass's lease taken with the read of its run, tenant, owner, members and hosts; a
    # later pass's claim with the read of its step rows.
    assert by_kind["WITH leased"] == 3 and by_kind["WITH claimed"] == 2
    # An audit event (provisioning, ready): one INSERT, the chain's lock taken inside it.
    assert by_kind['INSERT INTO "tenants_auditevent"'] == 2
    assert not any(q.startswith("SELECT pg_advisory") for q in sql)
    assert len(sql) == 28, "\n".join(sql)


def test_a_step_write_counts_only_for_the_run_s_holder(tmp_path):
    """The one-statement step write keeps the fence: after a takeover (a new token) or once the
    run no longer runs (a deletion superseded it), it writes nothing."""
    run = Run.objects.create(
        tenant=TenantFactory(), action=Run.Action.APPLY, reason="t", status=Run.Status.RUNNING
    )
    first, second = (
        StepRun.objects.create(run=run, name=n, position=i) for i, n in enumerate("ab")
    )
    both = [(first.pk, {"status": StepRun.Status.CHANGED}), (second.pk, {"attempts": 1})]
    Run.objects.filter(pk=run.pk).update(token=run.token + 1)  # another worker claimed it
    assert not steps_update(run_id=run.pk, token=run.token, updates=both)
    assert steps_update(run_id=run.pk, token=run.token + 1, updates=both)
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, first.attempts) == (StepRun.Status.CHANGED, 0)
    assert (second.status, second.attempts) == (StepRun.Status.PENDING, 1)
    Run.objects.filter(pk=run.pk).update(status=Run.Status.CANCELLED)
    assert not steps_update(run_id=run.pk, token=run.token + 1, updates=[(first.pk, {"log": "x"})])
    first.refresh_from_db()
    assert first.log == ""


def test_a_pause_writes_all_or_nothing_and_lets_go_of_the_lease_only_when_parked():
    """The pause's one statement (the step, the run parked, the lease released) is fenced as
    the step write is: after a takeover it writes none of the three."""
    tenant = TenantFactory(lock_holder="me")
    run = Run.objects.create(
        tenant=tenant, action=Run.Action.APPLY, reason="t", status=Run.Status.RUNNING, token=1
    )
    row = StepRun.objects.create(run=run, name="a", position=0)
    pause = {
        "updates": [(row.pk, {"status": StepRun.Status.WAITING})],
        "delay": 60.0,
        "message": "waits",
        "tenant_id": tenant.pk,
        "holder": "me",
    }
    assert not steps_park(run_id=run.pk, token=2, **pause)  # another worker's token now
    run.refresh_from_db()
    row.refresh_from_db()
    tenant.refresh_from_db()
    assert (run.status, row.status, tenant.lock_holder) == ("running", "pending", "me")
    assert steps_park(run_id=run.pk, token=1, **pause)
    run.refresh_from_db()
    row.refresh_from_db()
    tenant.refresh_from_db()
    assert (run.status, run.message, row.status) == ("waiting", "waits", "waiting")
    assert 50 < (run.not_before - timezone.now()).total_seconds() <= 60
    assert tenant.lock_holder == "" and tenant.lock_expires_at is None


def test_a_pass_that_read_its_run_before_a_pause_does_not_start_it_early():
    """The lease is taken in the statement that reads the run, whose snapshot may predate the
    pause that released the lease (its UPDATE waited for that release): the claim, made on the
    database as it is now, refuses the run until it is due, and the pass ends."""
    run = Run.objects.create(
        tenant=TenantFactory(), action=Run.Action.APPLY, reason="t", status=Run.Status.RUNNING
    )
    read, _ = leased_run(tenant_id=run.tenant_id, holder="me")  # as it was: running, due
    Run.objects.filter(pk=run.pk).update(
        status=Run.Status.WAITING, not_before=timezone.now() + timedelta(minutes=5)
    )
    assert engine._Advance(read, "me").go() == 0  # look again: that pass finds it not due
    run.refresh_from_db()
    assert (run.status, run.token) == (Run.Status.WAITING, 0)
    lock_release(tenant_id=run.tenant_id, holder="me")  # as reconcile() does after the pass
    assert engine.reconcile(run.tenant_id) > 200


def test_the_spec_read_with_the_lease_is_the_spec_read_alone():
    """The owner's Authentik name, the members and the proven extra hosts read as arrays with
    the run are what spec_for() reads by itself, in the same order."""
    from allauth.socialaccount.models import SocialAccount

    tenant = TenantFactory(host="main.example.com")
    SocialAccount.objects.create(
        user=tenant.owner,
        provider="authentik",
        uid="sub",
        extra_data={"userinfo": {"preferred_username": "alice.k"}},
    )
    for name in ("zoe", "Mark", "ann"):
        TenantMember.objects.create(tenant=tenant, username=name)
    now = timezone.now()
    for name, proven in (("b.example.com", now), ("a.example.com", now), ("c.example.com", None)):
        TenantHost.objects.create(tenant=tenant, name=name, proven_at=proven)
    TenantHost.objects.create(tenant=tenant, name="main.example.com", proven_at=now)
    Run.objects.create(tenant=tenant, action=Run.Action.APPLY, reason="t")
    read, leased = leased_run(tenant_id=tenant.pk, holder="me")
    assert leased
    alone = spec_for(Tenant.objects.get(pk=tenant.pk))
    assert spec_for(read.tenant, read=read) == alone
    assert alone.owner_username == "alice.k"
    assert set(alone.members) == {"ann", "Mark", "zoe"}
    assert alone.extra_hosts == ("a.example.com", "b.example.com")


def test_a_claim_reads_the_attempt_its_former_holder_counted_while_it_waited():
    """A takeover's claim waits for the former holder's step write in flight (its lock on the
    run), and the step rows it reads in the same statement are those that write left, not the
    ones of the statement's snapshot: the attempt counted is not lost."""
    import threading

    from django.db import connections, transaction

    run = Run.objects.create(
        tenant=TenantFactory(), action=Run.Action.APPLY, reason="t", status=Run.Status.RUNNING
    )
    row = StepRun.objects.create(run=run, name="a", position=0, attempts=1)
    written, commit, read = threading.Event(), threading.Event(), []

    def former_holder() -> None:
        try:
            with transaction.atomic():
                assert steps_update(run_id=run.pk, token=0, updates=[(row.pk, {"attempts": 2})])
                written.set()
                commit.wait(10)
        finally:
            connections.close_all()

    def claimer() -> None:
        try:
            claim = Run.objects.filter(pk=run.pk, status__in=Run.OPEN, token=0)
            fields = {"token": 1, "holder": "new"}
            read.append(steps_claiming(run_id=run.pk, claim=claim, fields=fields))
        finally:
            connections.close_all()

    holder = threading.Thread(target=former_holder)
    holder.start()
    assert written.wait(10)
    claiming = threading.Thread(target=claimer)
    claiming.start()
    claiming.join(1.0)
    assert claiming.is_alive()  # waiting for the former holder's lock on the run
    commit.set()
    holder.join(10)
    claiming.join(10)
    assert [r.attempts for r in read[0]] == [2]
    run.refresh_from_db()
    assert (run.token, run.holder) == (1, "new")
