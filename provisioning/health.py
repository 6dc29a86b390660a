"""A serving tenant's health, apart from its drift: degraded while its latest repair failed."""

from dataclasses import dataclass
from datetime import datetime

from provisioning.engine import REPAIRS
from provisioning.models import Run
from tenants.models import Tenant


@dataclass(frozen=True)
class Health:
    degraded: bool
    since: datetime | None = None
    cause: str = ""


def tenant_health(tenant: Tenant) -> Health | None:
    """None unless the tenant is serving (ready). Degraded when the last finished run that
    built or checked it was a repair that failed: since the first failure after a success."""
    if tenant.state != Tenant.State.READY:
        return None
    finished = tenant.runs.filter(
        action__in=[Run.Action.APPLY, Run.Action.CHECK],
        status__in=[Run.Status.SUCCEEDED, Run.Status.FAILED],
    ).order_by("-created_at", "-id")
    last = finished.first()
    if last is None or last.status == Run.Status.SUCCEEDED or last.reason not in REPAIRS:
        return Health(degraded=False)
    good = finished.filter(status=Run.Status.SUCCEEDED).first()
    failing = finished.filter(status=Run.Status.FAILED)
    if good is not None:
        failing = failing.filter(created_at__gt=good.created_at)
    first = failing.order_by("created_at", "id").first()
    return Health(degraded=True, since=first.created_at, cause=last.error)
