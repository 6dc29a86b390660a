"""Moving a tenant between states: only along Tenant.TRANSITIONS, and only if nobody beat us."""

from collections.abc import Iterable

from django.utils import timezone

from tenants.models import Tenant


def allowed_sources(target: str) -> set[str]:
    return {src for src, targets in Tenant.TRANSITIONS.items() if target in targets}


def tenant_transition(
    *, tenant_id: int, to: str, only_from: Iterable[str] | None = None, **fields
) -> bool:
    """Conditionally move the tenant to `to`; False if its state did not allow it (any more)."""
    sources = allowed_sources(to)
    if only_from is not None:
        sources &= set(only_from)
    if not sources:
        return False
    rows = Tenant.objects.filter(pk=tenant_id, state__in=sources).update(
        state=to, state_changed_at=timezone.now(), updated_at=timezone.now(), **fields
    )
    return rows == 1
