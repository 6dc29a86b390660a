"""What the tenant_* management commands share: finding a tenant, following its runs."""

import argparse
import math
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from django.conf import settings
from django.core.management.base import CommandError

from provisioning import engine
from provisioning.errors import LockHeld
from provisioning.models import Run, StepRun
from tenants.models import Tenant

POLL_INTERVAL = 1.0  # seconds between looks at the run while following it


def tenant_by_slug(slug: str) -> Tenant:
    """The live tenant with this slug, else the most recent one that had it."""
    longest = Tenant._meta.get_field("slug").max_length
    if len(slug.strip()) > longest:
        # No tenant is called that; and SQLite refuses so long a pattern with a traceback.
        shown = slug if len(slug) <= 40 else f"{slug[:40]}…"
        raise CommandError(
            f"No tenant is called “{shown}”: a slug has at most {longest} characters."
        )
    tenants = Tenant.objects.select_related("plan", "owner").filter(slug__iexact=slug.strip())
    tenant = tenants.filter(state__in=Tenant.LIVE_STATES).first() or tenants.first()
    if tenant is None:
        raise CommandError(f"No tenant is called “{slug}”.")
    return tenant


def seconds(text: str) -> float:
    """--timeout's type: a finite number of seconds above 0 (argparse says so otherwise)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"“{text}” is not a number of seconds") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text} s: give a number of seconds above 0")
    return value


def confirm_slug(slug: str, *, out, warning: str, refused: str) -> None:
    """Ask on `out` (a command's stdout) for the slug a second time, after `warning`, so a typo
    in a command recalled from the history is not enough; CommandError, beginning with
    `refused`, unless it is typed."""
    out.write(warning)
    out.write("Type the slug again to go on: ", ending="")
    out.flush()
    try:
        # No stdin at all (`<&-`, some schedulers) reads as no answer, as an empty one does.
        answer = sys.stdin.readline().strip() if sys.stdin is not None else ""
    except KeyboardInterrupt:
        out.write("")  # the prompt's line ended, for the refusal after it
        answer = ""
    if answer != slug:
        raise CommandError(
            f"{refused}: “{answer}” is not “{slug}”. (Scripts that mean it pass --yes.)"
            if answer
            else f"{refused}: no confirmation read. Type “{slug}” when asked, or pass --yes."
        )


@contextmanager
def reader_may_leave() -> Iterator[None]:
    """End quietly when whoever reads the output stops reading (`tenant_plan x | head`)."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout once more at exit and would print a second traceback there.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None


# --wait's help: a worker runs the run, but embedded (the folder broker) this command takes turns
# itself, and with eager tasks the run happened in this process before the wait began.
WAIT_HELP = (
    "follow the run until it ends (run by a worker, or by this command too with the folder "
    "broker or PORTAL_CELERY_EAGER)"
)


def embedded_broker() -> bool:
    """The folder broker of a laptop install, where no worker may be running."""
    return settings.CELERY_BROKER_URL.startswith("filesystem://")


def follow_runs(tenant: Tenant, *, timeout: float, write) -> Tenant:
    """Wait until the tenant has no open run, saying how each step ended.

    The workers do the work: this only polls the database. With the embedded folder broker
    (a laptop may run no worker at all) this process takes a turn itself, through the same
    lease, so never beside a worker holding the run.
    """
    deadline = time.monotonic() + timeout
    told: set[int] = set()
    # The runs to tell of: those open now (the one just queued among them), else the newest
    # (a worker already finished it); not every run the tenant ever had.
    runs = Run.objects.filter(tenant=tenant).order_by("pk").values_list("pk", flat=True)
    since = runs.filter(status__in=Run.OPEN).first() or runs.last() or 0
    while Run.objects.filter(tenant=tenant, status__in=Run.OPEN).exists():
        if time.monotonic() > deadline:
            # The folder broker's laptop may run no worker: the run waits, it doesn't go on.
            where = (
                "it waits for a worker (run.sh starts one) or the next --wait"
                if embedded_broker()
                else "the run goes on in the workers"
            )
            raise CommandError(f"Gave up after {timeout:g} s; {where}.")
        delay = POLL_INTERVAL
        if embedded_broker():
            with suppress(LockHeld):  # a worker has it: follow along
                delay = engine.reconcile(tenant.pk) or 0.0
        _tell_steps(tenant, since, told, write)
        time.sleep(min(delay, POLL_INTERVAL, max(0.0, deadline - time.monotonic())))
    _tell_steps(tenant, since, told, write)
    tenant.refresh_from_db()
    return tenant


def _tell_steps(tenant: Tenant, since: int, told: set[int], write) -> None:
    ended = StepRun.objects.filter(run__tenant=tenant, run__gte=since).exclude(pk__in=told)
    ended = ended.filter(status__in=[*StepRun.DONE, StepRun.Status.FAILED])
    for step in ended.order_by("run_id", "position"):
        told.add(step.pk)
        write(f"  {step.name}: {step.get_status_display()}")


def follow_purge(tenant: Tenant, *, timeout: float, write) -> float:
    """Wait for a deletion's final backup until the teardown begins (the seconds left of
    `timeout`); CommandError saying why when it failed, or the deletion was cancelled. With the
    folder broker this process takes the purge itself, as follow_runs takes a run."""
    from tenants import deletion  # it imports the engine's modules

    deadline = time.monotonic() + timeout
    write(f"{tenant.slug}: taking the final backup")
    while True:
        tenant.refresh_from_db()
        if not tenant.desired_present:
            return max(0.0, deadline - time.monotonic())  # saved: the teardown is under way
        if tenant.delete_after is None:
            raise CommandError(f"{tenant.slug}: the deletion was cancelled meanwhile; it stays.")
        held = deletion.deletion_held_by(tenant)
        if held:
            raise CommandError(
                f"{tenant.slug}: not deleted, the final backup failed: {held}. Nothing was "
                "removed; the purge tries again at its next look."
            )
        if time.monotonic() > deadline:
            raise CommandError(f"Gave up after {timeout:g} s; the final backup goes on.")
        if embedded_broker():
            deletion.tenant_purge(tenant)
        time.sleep(POLL_INTERVAL)


def finish(tenant: Tenant, *, wait: bool, timeout: float, write) -> None:
    """With --wait, follow the run until it ends and say how the tenant ended; a failed
    tenant raises CommandError, so the command exits non-zero."""
    if not wait:
        return
    tenant = follow_runs(tenant, timeout=timeout, write=write)
    write(f"{tenant.slug}: {tenant.state_label}")
    if tenant.last_error:
        write(f"  {tenant.last_error}")
    if tenant.state == Tenant.State.FAILED:
        # A script (or CI) waiting on the run must see the failure in the exit status too.
        raise CommandError(f"{tenant.slug} failed; `tenant_reconcile {tenant.slug}` retries it.")
    last = tenant.runs.exclude(reason="drift").first()
    if last is not None and last.status == last.Status.FAILED:
        # A repair of a serving tenant fails without failing the tenant (it is degraded).
        write(f"  {last.error}")
        raise CommandError(
            f"{tenant.slug}: the reconcile failed; the tenant keeps serving, degraded. "
            f"`tenant_reconcile {tenant.slug}` tries again."
        )
