"""The per-tenant reconcile lease: one holder at a time, taken over only once it expired.

Expiry is reckoned on the database's clock (now() of PostgreSQL), never a host's, so
workers whose clocks disagree still agree on when a lease ran out.
"""

import os
import socket
import threading
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import DateTimeField, DurationField, ExpressionWrapper, F, Q
from django.db.models.functions import Now

from provisioning.models import Run
from tenants.models import Tenant


def holder_name() -> str:
    """Who holds a lease: host and process (for a human reading it), unique per pass."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _expiry() -> ExpressionWrapper:
    ttl = timedelta(seconds=settings.PORTAL_TENANT_LOCK_TTL)
    return ExpressionWrapper(Now() + ttl, output_field=DateTimeField())


def lock_acquire(*, tenant_id: int, holder: str) -> bool:
    """Take the tenant's lease if it is free, expired (a dead worker's) or already ours."""
    free = Q(lock_holder="") | Q(lock_expires_at__lt=Now()) | Q(lock_holder=holder)
    rows = (
        Tenant.objects.filter(pk=tenant_id)
        .filter(free)
        .update(lock_holder=holder, lock_expires_at=_expiry())
    )
    return rows == 1


def lease_clause(*, tenant_id: int, holder: str) -> tuple[str, list]:
    """lock_acquire() as a WITH clause of another statement (provisioning.withsql), named
    `leased`: it returns the tenant's id when the lease was taken."""
    table = connection.ops.quote_name(Tenant._meta.db_table)
    sql = (
        f"leased AS (UPDATE {table} SET lock_holder = %s,"  # noqa: S608  (constants; values params)
        " lock_expires_at = STATEMENT_TIMESTAMP() + %s WHERE id = %s AND (lock_holder = ''"
        " OR lock_expires_at < STATEMENT_TIMESTAMP() OR lock_holder = %s) RETURNING id)"
    )
    ttl = timedelta(seconds=settings.PORTAL_TENANT_LOCK_TTL)
    return sql, [holder, ttl, tenant_id, holder]


def lock_renew(*, tenant_id: int, holder: str) -> bool:
    """Extend our lease; False if it was taken over (we were too slow and must stop)."""
    rows = Tenant.objects.filter(pk=tenant_id, lock_holder=holder).update(lock_expires_at=_expiry())
    return rows == 1


def lease_left(tenant_id: int) -> float:
    """Seconds until the tenant's lease runs out, on the database's clock; 0 when free."""
    left = (
        Tenant.objects.filter(pk=tenant_id, lock_expires_at__isnull=False)
        .annotate(left=ExpressionWrapper(F("lock_expires_at") - Now(), DurationField()))
        .values_list("left", flat=True)
        .first()
    )
    return max(0.0, left.total_seconds()) if left is not None else 0.0


def lock_release(*, tenant_id: int, holder: str) -> None:
    Tenant.objects.filter(pk=tenant_id, lock_holder=holder).update(
        lock_holder="", lock_expires_at=None
    )


def release_clause(*, tenant_id: int, holder: str, once: str = "") -> tuple[str, list]:
    """lock_release() as a WITH clause of another statement (provisioning.withsql), named
    `released`; with `once`, only if the clause of that name returned a row."""
    table = connection.ops.quote_name(Tenant._meta.db_table)
    after = f" AND EXISTS (SELECT 1 FROM {once})" if once else ""  # noqa: S608  (a name of ours)
    sql = (
        f"released AS (UPDATE {table} SET lock_holder = '', lock_expires_at = NULL"  # noqa: S608
        f" WHERE id = %s AND lock_holder = %s{after} RETURNING id)"
    )
    return sql, [tenant_id, holder]


class Heartbeat:
    """Renews the lease from a thread of its own while a step runs, however long it takes:
    a lease then expires only when its holder is gone, not because a call was slow."""

    def __init__(self, *, tenant_id: int, holder: str, run_id: int | None = None):
        self.tenant_id = tenant_id
        self.run_id = run_id
        self.holder = holder
        self.lost = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"lease-{tenant_id}", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        interval = max(0.5, settings.PORTAL_TENANT_LOCK_TTL / 3)
        try:
            while not self._stop.wait(interval):
                if not lock_renew(tenant_id=self.tenant_id, holder=self.holder):
                    self.lost = True  # taken over: our writes will be refused by the fence
                    return
                if self.run_id is not None:
                    # The sweep reads this to tell a live run from one whose worker is gone.
                    Run.objects.filter(pk=self.run_id).update(heartbeat_at=Now())
        finally:
            connection.close()  # this thread's own connection
