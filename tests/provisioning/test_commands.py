"""The tenant_plan, tenant_reconcile and tenant_deprovision commands, as an operator runs them."""

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command, load_command_class

from provisioning.models import Run
from tenants import services
from tenants.models import AuditEvent, Tenant
from tests.factories import TenantFactory
from tests.workers import worker_env

ROOT = Path(__file__).resolve().parents[2]


def _run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def ready_tenant(requester, approver, eager_celery, django_capture_on_commit_callbacks):
    tenant = TenantFactory(owner=requester, slug="corner-shop")
    with django_capture_on_commit_callbacks(execute=True):
        services.tenant_approve(tenant_id=tenant.pk, actor=approver)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY, tenant.last_error
    return tenant


def test_tenant_plan_prints_every_step_without_secrets(ready_tenant):
    out = _run("tenant_plan", "Corner-Shop")
    for step in ("namespace", "network", "database", "sso", "storage", "wordpress"):
        assert f"# --- step {step}:" in out
    assert "corner-shop" in out


def test_tenant_plan_names_an_unknown_tenant(db):
    with pytest.raises(CommandError, match="No tenant is called “nope”"):
        _run("tenant_plan", "nope")


@pytest.fixture
def embedded(settings):
    """The folder broker of a laptop install: --wait takes its turn in this process."""
    settings.CELERY_BROKER_URL = "filesystem://"


def test_tenant_reconcile_wait_runs_the_engine_and_audits_the_operator(ready_tenant, embedded):
    out = _run("tenant_reconcile", "corner-shop", "--wait")
    assert "corner-shop: reconcile queued" in out and "corner-shop: Ready" in out
    run = ready_tenant.runs.order_by("-id").first()
    assert run.reason == "manual" and run.status == Run.Status.SUCCEEDED
    assert run.requested_by_name.startswith("cli:")  # as the audit trail names the operator
    event = AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_RECONCILED).get()
    assert event.actor is None and event.actor_name.startswith("cli:")
    assert event.request_id.startswith("cli-")


def test_tenant_reconcile_needs_a_slug_or_all(db):
    with pytest.raises(CommandError, match="Name one tenant, or pass --all"):
        _run("tenant_reconcile")


def test_tenant_reconcile_refuses_a_tenant_not_yet_approved(requester):
    TenantFactory(owner=requester, slug="waiting-one")
    with pytest.raises(CommandError, match="Only a ready or failed tenant can be reconciled"):
        _run("tenant_reconcile", "waiting-one")


def test_tenant_deprovision_wait_removes_everything(ready_tenant, settings, embedded):
    plan_dir = settings.PORTAL_PLAN_DIR / "corner-shop"
    assert any(plan_dir.iterdir())
    out = _run("tenant_deprovision", "corner-shop", "--wait", "--yes")
    assert "corner-shop: Deleted" in out
    ready_tenant.refresh_from_db()
    assert ready_tenant.state == Tenant.State.DELETED
    assert not plan_dir.exists()
    run = ready_tenant.runs.order_by("-id").first()
    assert run.action == Run.Action.DESTROY and run.status == Run.Status.SUCCEEDED
    # Teardown walks the steps backwards.
    assert [s.name for s in run.steps.order_by("position")][0] == "wordpress"
    with pytest.raises(CommandError, match="already gone"):
        _run("tenant_deprovision", "corner-shop", "--yes")


@pytest.mark.parametrize(
    ("typed", "refusal"),
    [
        ("", "no confirmation read"),
        ("corner-shoq\n", "“corner-shoq” is not “corner-shop”"),
        ("CORNER-SHOP\n", "“CORNER-SHOP” is not “corner-shop”"),  # exactly, as on the pages
    ],
)
def test_tenant_deprovision_asks_for_the_slug_again(ready_tenant, monkeypatch, typed, refusal):
    monkeypatch.setattr("sys.stdin", StringIO(typed))
    with pytest.raises(CommandError, match=refusal):
        _run("tenant_deprovision", "corner-shop")
    ready_tenant.refresh_from_db()
    assert ready_tenant.state == Tenant.State.READY

    monkeypatch.setattr("sys.stdin", StringIO("corner-shop\n"))
    assert "deletion queued" in _run("tenant_deprovision", "corner-shop")
    ready_tenant.refresh_from_db()
    assert ready_tenant.state == Tenant.State.DELETING


@pytest.mark.django_db(transaction=True)
def test_tenant_plan_piped_into_head_ends_without_a_traceback(requester):
    TenantFactory(owner=requester, slug="corner-shop")
    # A reader that leaves after the first line, as `| head -1` does.
    plan = subprocess.Popen(
        [sys.executable, "manage.py", "tenant_plan", "corner-shop"],
        cwd=ROOT,
        env=worker_env({}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    first = plan.stdout.readline()
    plan.stdout.close()
    stderr = plan.stderr.read().decode()
    plan.wait(timeout=60)

    assert first.startswith(b"# --- step namespace")
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr


def test_tenant_reconcile_wait_exits_non_zero_when_the_tenant_fails(
    ready_tenant, embedded, settings, tmp_path
):
    # A plan directory that is a file: the first step can't write its plan (a real failure).
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("")
    settings.PORTAL_PLAN_DIR = blocked
    with pytest.raises(
        CommandError, match="corner-shop: the reconcile failed; the tenant keeps serving, degraded"
    ):
        _run("tenant_reconcile", "corner-shop", "--wait")
    ready_tenant.refresh_from_db()
    assert ready_tenant.state == Tenant.State.READY  # serving still: a repair never unserves
    with pytest.raises(CommandError, match=r"1 tenant\(s\) failed: corner-shop\."):
        _run("tenant_reconcile", "--all", "--wait")


def test_tenant_plan_with_kubernetes_unreachable_says_so(
    requester, kube_cluster, no_request_retries
):
    TenantFactory(owner=requester, slug="corner-shop")
    kube_cluster.stop()  # its port closed: the wordpress step's plan reads the live volume
    with pytest.raises(
        CommandError, match=r"corner-shop: no plan for step \w+: the Kubernetes API didn't answer"
    ):
        _run("tenant_plan", "corner-shop")


def test_a_slug_longer_than_any_is_no_tenant_without_asking_the_database(
    db, django_assert_num_queries
):
    # SQLite (the embedded mode) fails so long a LIKE pattern with a traceback.
    with django_assert_num_queries(0), pytest.raises(CommandError) as refused:
        _run("tenant_plan", "a" * 100_000)
    assert str(refused.value) == (
        f"No tenant is called “{'a' * 40}…”: a slug has at most 30 characters."
    )


@pytest.mark.parametrize("timeout", ["-5", "0", "nan", "inf", "soon"])
def test_a_timeout_is_a_number_of_seconds_above_zero(db, timeout):
    for command in ("tenant_reconcile", "tenant_deprovision"):
        with pytest.raises(CommandError, match="argument --timeout: .*seconds"):
            _run(command, "corner-shop", "--wait", "--timeout", timeout)


def test_tenant_reconcile_wait_tells_of_its_own_run_not_the_tenants_earlier_ones(
    ready_tenant, embedded
):
    _run("tenant_reconcile", "corner-shop", "--wait")  # the build's run and this one before
    out = _run("tenant_reconcile", "corner-shop", "--wait")
    assert out.count("  namespace: ") == 1 and out.count("  wordpress: ") == 1, out


class _Interrupted(StringIO):
    def readline(self, *args):
        raise KeyboardInterrupt  # Ctrl-C at the prompt


@pytest.mark.parametrize("stdin", [None, _Interrupted()], ids=["closed", "ctrl-c"])
def test_tenant_deprovision_without_an_answer_refuses_in_a_sentence(
    ready_tenant, monkeypatch, stdin
):
    monkeypatch.setattr("sys.stdin", stdin)  # `<&-`: Python's sys.stdin is None
    with pytest.raises(CommandError, match="Not deleted: no confirmation read"):
        _run("tenant_deprovision", "corner-shop")
    ready_tenant.refresh_from_db()
    assert ready_tenant.state == Tenant.State.READY


class _DeletingTheOther(StringIO):
    """The command's output; once the first of `pair` is queued, the other's teardown begins
    (its grace period ended, its purge took it) before the command comes to it."""

    def __init__(self, pair: list[Tenant], admin):
        super().__init__()
        self.pair, self.admin, self.deleted = pair, admin, None

    def write(self, text):
        if self.deleted is None and text.endswith(": reconcile queued\n"):
            self.deleted = next(t for t in self.pair if not text.startswith(f"{t.slug}:"))
            services.tenant_teardown(
                tenant=Tenant.objects.get(pk=self.deleted.pk), actor=self.admin
            )
        return super().write(text)


def test_tenant_reconcile_all_takes_each_tenant_as_it_is_when_its_turn_comes(
    ready_tenant, approver, django_capture_on_commit_callbacks
):
    second = TenantFactory(owner=ready_tenant.owner, slug="second-shop")
    with django_capture_on_commit_callbacks(execute=True):
        services.tenant_approve(tenant_id=second.pk, actor=approver)
    out = _DeletingTheOther([ready_tenant, second], approver)

    call_command("tenant_reconcile", "--all", stdout=out)

    deleted = out.deleted
    (kept,) = [t for t in (ready_tenant, second) if t != deleted]
    assert f"{deleted.slug}: not reconciled: " in out.getvalue()
    assert not deleted.runs.filter(reason="manual").exists()  # nothing built while torn down
    assert kept.runs.filter(reason="manual").exists()


def test_tenant_reconcile_giving_up_embedded_says_the_run_waits(ready_tenant, embedded):
    # The folder broker: a laptop may run no worker, so nothing "goes on in the workers".
    with pytest.raises(CommandError) as gave_up:
        _run("tenant_reconcile", "corner-shop", "--wait", "--timeout", "1e-9")
    assert str(gave_up.value) == (
        "Gave up after 1e-09 s; it waits for a worker (run.sh starts one) or the next --wait."
    )


def test_tenant_deprovision_wait_follows_a_teardown_already_under_way(ready_tenant, embedded):
    # Queued, not followed (or an earlier --wait gave up): asking again with --wait follows it.
    assert "corner-shop: deletion queued" in _run("tenant_deprovision", "corner-shop", "--yes")
    ready_tenant.refresh_from_db()
    assert ready_tenant.state == Tenant.State.DELETING

    out = _run("tenant_deprovision", "corner-shop", "--yes", "--wait")

    assert "corner-shop: being torn down already; following it" in out
    assert "corner-shop: Deleted" in out
    with pytest.raises(CommandError, match="corner-shop: This tenant is already gone."):
        _run("tenant_deprovision", "corner-shop", "--yes", "--wait")


@pytest.mark.parametrize("command", ["tenant_deprovision", "tenant_reconcile"])
def test_wait_help_says_who_runs_the_run_embedded_too(command):
    parser = load_command_class("provisioning", command).create_parser("manage.py", command)
    shown = " ".join(parser.format_help().split())
    # Embedded, no worker may be running: the folder broker's --wait takes turns itself.
    assert "the workers do the work" not in shown
    assert "or by this command too with the folder broker or PORTAL_CELERY_EAGER" in shown
