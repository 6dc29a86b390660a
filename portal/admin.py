"""The Django admin's user pages, with role changes made there written to the audit trail."""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from portal import roles
from tenants.audit import audit_record
from tenants.models import AuditEvent

User = get_user_model()


class PortalUserAdmin(UserAdmin):
    def save_related(self, request, form, formsets, change):
        user = form.instance
        before = roles.role_of(user) if change else None
        super().save_related(request, form, formsets, change)
        user.__dict__.pop("_portal_role", None)
        after = roles.role_of(user)
        if before != after:
            audit_record(
                action=AuditEvent.Action.USER_ROLE_CHANGED,
                actor=request.user,
                obj=user,
                before={"role": str(before) if before else None},
                after={"role": str(after)},
                message="Role changed through the user's groups in the Django admin.",
            )


admin.site.unregister(User)
admin.site.register(User, PortalUserAdmin)
