"""The per-tenant reconcile lease: one holder at a time, taken over only once it expired."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from tenants.models import Tenant


def _ttl() -> timedelta:
    return timedelta(seconds=settings.PORTAL_TENANT_LOCK_TTL)


def lock_acquire(*, tenant_id: int, holder: str) -> bool:
    """Take the tenant's lease if it is free, expired (a dead worker's) or already ours."""
    now = timezone.now()
    free = Q(lock_holder="") | Q(lock_expires_at__lt=now) | Q(lock_holder=holder)
    rows = (
        Tenant.objects.filter(pk=tenant_id)
        .filter(free)
        .update(lock_holder=holder, lock_expires_at=now + _ttl())
    )
    return rows == 1


def lock_renew(*, tenant_id: int, holder: str) -> bool:
    """Extend our lease; False if it was taken over (we were too slow and must stop)."""
    rows = Tenant.objects.filter(pk=tenant_id, lock_holder=holder).update(
        lock_expires_at=timezone.now() + _ttl()
    )
    return rows == 1


def lock_release(*, tenant_id: int, holder: str) -> None:
    Tenant.objects.filter(pk=tenant_id, lock_holder=holder).update(
        lock_holder="", lock_expires_at=None
    )
