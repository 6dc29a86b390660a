"""Who may call what: the same rules the pages' mixins apply (tenants.views.base)."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from portal import roles

# The sentence of the pages' 403 (portal.errorpages.forbidden).
NOT_YOUR_ROLE = "Your role does not allow this action."


class ActorOrReadOnly(BasePermission):
    """Auditors read; they change nothing (the pages' ActorMixin)."""

    message = NOT_YOUR_ROLE

    def has_permission(self, request, view):
        return request.method in SAFE_METHODS or not roles.is_auditor(request.user)


class ApproverOrAuditorReads(BasePermission):
    """Approvers act; auditors may read; requesters are refused (ApproverRequiredMixin)."""

    message = NOT_YOUR_ROLE

    def has_permission(self, request, view):
        role = roles.role_of(request.user)
        if role == roles.Role.APPROVER:
            return True
        return role == roles.Role.AUDITOR and request.method in SAFE_METHODS


class SeesEverything(BasePermission):
    """The whole audit trail is for approvers and auditors (the Django admin's rule)."""

    message = NOT_YOUR_ROLE

    def has_permission(self, request, view):
        return roles.sees_all_tenants(request.user)
