"""What the tenant_* management commands share: finding a tenant, running the engine inline."""

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.core.management.base import CommandError

from provisioning import engine
from provisioning.errors import LockHeld
from provisioning.models import Run
from tenants.models import Tenant


def tenant_by_slug(slug: str) -> Tenant:
    """The live tenant with this slug, else the most recent one that had it."""
    tenants = Tenant.objects.select_related("plan", "owner").filter(slug__iexact=slug.strip())
    tenant = tenants.filter(state__in=Tenant.LIVE_STATES).first() or tenants.first()
    if tenant is None:
        raise CommandError(f"No tenant is called “{slug}”.")
    return tenant


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


def run_inline(tenant: Tenant, *, timeout: float, write) -> Tenant:
    """Drive the tenant's open runs in this process until none is left (or timeout)."""
    deadline = time.monotonic() + timeout
    while Run.objects.filter(tenant=tenant, status__in=Run.OPEN).exists():
        if time.monotonic() > deadline:
            raise CommandError(f"Gave up after {timeout:.0f} s; the run goes on in the workers.")
        try:
            delay = engine.reconcile(tenant.pk)
        except LockHeld:
            delay = 1.0
        if delay:
            write(f"  waiting {delay:.1f} s ...")
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
    tenant.refresh_from_db()
    return tenant


def finish(tenant: Tenant, *, wait: bool, timeout: float, write) -> None:
    """With --wait, drive the run here and say how the tenant ended."""
    if not wait:
        return
    tenant = run_inline(tenant, timeout=timeout, write=write)
    write(f"{tenant.slug}: {tenant.get_state_display()}")
    if tenant.last_error:
        write(f"  {tenant.last_error}")
