"""Template context every page shares: the user's role and which systems run in plan mode."""

from django.conf import settings

from portal import roles
from provisioning.drivers import planned_systems


def portal(request):
    role = roles.role_of(getattr(request, "user", None))
    return {
        "portal_role": role,
        "portal_is_approver": role == roles.Role.APPROVER,
        "portal_is_auditor": role == roles.Role.AUDITOR,
        "portal_planned_systems": planned_systems(),
        "portal_oidc_enabled": settings.PORTAL_OIDC_ENABLED,
        # The top bar's badge: requests waiting for a decision, for those who decide.
        "portal_pending_count": _pending_count() if role == roles.Role.APPROVER else 0,
    }


def _pending_count() -> int:
    from tenants.models import Tenant

    return Tenant.objects.filter(state=Tenant.State.REQUESTED).count()
