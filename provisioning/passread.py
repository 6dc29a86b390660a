"""A pass's first statement: the tenant's lease taken, and its oldest open run read with all
the spec needs (issue 14: one statement where there were three, on PostgreSQL)."""

from django.db.models import DurationField, ExpressionWrapper, F
from django.db.models.expressions import RawSQL
from django.db.models.functions import Now

from provisioning.locks import lease_clause, lock_acquire
from provisioning.models import Run
from provisioning.spec import people_read
from provisioning.withsql import combined, prefixed


def leased_run(*, tenant_id: int, holder: str) -> tuple[Run | None, bool]:
    """(the tenant's oldest open run or None, whether the lease is ours). With no open run the
    lease may have been taken or not: releasing it is the caller's either way."""
    runs = (
        Run.objects.filter(tenant_id=tenant_id, status__in=Run.OPEN)
        .select_related("tenant__plan", "tenant__owner")  # the pass's tenant, one query
        # Due on the database's clock, like the lease: a host whose clock runs ahead
        # would otherwise start a paused step early, one running behind leave it parked.
        .annotate(due_in=ExpressionWrapper(F("not_before") - Now(), DurationField()))
        .order_by("created_at", "id")
    )
    if not combined():
        if not lock_acquire(tenant_id=tenant_id, holder=holder):
            return None, False
        return runs.first(), True
    # The run is read in the statement's snapshot, taken before the lease's UPDATE may have
    # waited for a holder's last write (a pause releases with it): what it says may be older
    # than the lease, which the claim's own conditions make up for (engine._Advance._claim).
    leased = RawSQL("SELECT COUNT(*) FROM leased", [])  # noqa: S611  (a constant)
    with prefixed([lease_clause(tenant_id=tenant_id, holder=holder)]):
        run = runs.annotate(leased=leased, **people_read("tenant")).first()
    return run, run is None or bool(run.leased)
