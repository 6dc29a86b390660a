"""Reconcile every ready tenant last built from another tenant image than this portal's."""

from django.db.models import OuterRef, Subquery

from portal.errors import ApplicationError
from provisioning import tenantimage
from provisioning.models import Run
from tenants import services
from tenants.models import Tenant


def tenants_outdated(current: str | None = None) -> list[Tenant]:
    """Ready and failed tenants whose last finished build (an apply run that succeeded) was
    made from another image than `current` (this portal's); tenants with a run open are left
    out: that run records what it builds from. A build from before runs recorded it counts
    as another image."""
    current = current or tenantimage.fingerprint()
    last_build = Run.objects.filter(
        tenant=OuterRef("pk"), action=Run.Action.APPLY, status=Run.Status.SUCCEEDED
    ).order_by("-id")
    candidates = (
        Tenant.objects.filter(
            state__in=[Tenant.State.READY, Tenant.State.FAILED], desired_present=True
        )
        .exclude(runs__status__in=Run.OPEN)
        .annotate(built_from=Subquery(last_build.values("image_fingerprint")[:1]))
        .filter(built_from__isnull=False)
        .exclude(built_from=current)
        .select_related("plan", "owner")
        .order_by("pk")
    )
    return list(candidates)


def tenant_image_rollout() -> tuple[list[Tenant], list[str]]:
    """Queue a reconcile of each outdated tenant (as `tenant_reconcile --all` would): the
    tenants queued, and the slugs of those that changed meanwhile (their own run applies the
    new image)."""
    queued, moved = [], []
    for tenant in tenants_outdated():
        try:
            services.tenant_reconcile(tenant=tenant, actor=None, reason="image")
        except ApplicationError:
            moved.append(tenant.slug)
        else:
            queued.append(tenant)
    return queued, moved
