"""The Django admin's user pages, each addition, change and deletion there audited."""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db import transaction

from portal import roles
from tenants.audit import audit_record
from tenants.models import AuditEvent

User = get_user_model()
Action = AuditEvent.Action
# What a change records, before and after; never the password or its hash.
FLAGS = ("is_active", "is_staff", "is_superuser")


def _flags(user_id) -> dict:
    return User.objects.filter(pk=user_id).values(*FLAGS).first() or {}


def _described(user) -> dict:
    role = roles.role_of(user)
    return {
        "username": user.get_username(),
        "role": str(role) if role else None,
        **{flag: getattr(user, flag) for flag in FLAGS},
    }


class PortalUserAdmin(UserAdmin):
    def save_model(self, request, obj, form, change):
        # As stored, not as submitted: the flags' audit compares the row before and after.
        form.flags_before = _flags(obj.pk) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        user = form.instance
        before = roles.role_of(user) if change else None
        super().save_related(request, form, formsets, change)
        user.__dict__.pop("_portal_role", None)
        if not change:
            user.refresh_from_db(fields=FLAGS)
            audit_record(
                action=Action.USER_CREATED,
                actor=request.user,
                obj=user,
                after=_described(user),
                message="Created in the Django admin.",
            )
            return
        after = roles.role_of(user)
        if before != after:
            audit_record(
                action=Action.USER_ROLE_CHANGED,
                actor=request.user,
                obj=user,
                before={"role": str(before) if before else None},
                after={"role": str(after)},
                message="Role changed through the user's groups in the Django admin.",
            )
        # After the groups: the staff flag follows the role (portal.staffsync).
        flags_after = _flags(user.pk)
        if flags_after != form.flags_before:
            audit_record(
                action=Action.USER_CHANGED,
                actor=request.user,
                obj=user,
                before=form.flags_before,
                after=flags_after,
                message="Changed in the Django admin.",
            )

    @transaction.atomic
    def delete_model(self, request, obj):
        audit_record(
            action=Action.USER_DELETED,
            actor=request.user,
            obj=obj,
            before=_described(obj),
            message="Deleted in the Django admin.",
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        # One by one, so each deletion is on record.
        for user in queryset:
            self.delete_model(request, user)

    def user_change_password(self, request, id, form_url=""):
        if request.method != "POST":
            return super().user_change_password(request, id, form_url)
        with transaction.atomic():
            user = self.get_object(request, unquote(id))
            before = user.password if user is not None else None
            response = super().user_change_password(request, id, form_url)
            if user is not None:
                user.refresh_from_db(fields=["password"])
            if user is not None and user.password != before:
                # That it changed, and whether a password is still usable: never a value.
                audit_record(
                    action=Action.USER_CHANGED,
                    actor=request.user,
                    obj=user,
                    after={"password": "changed" if user.has_usable_password() else "unusable"},
                    message="Password changed in the Django admin.",
                )
        return response


admin.site.unregister(User)
admin.site.register(User, PortalUserAdmin)
