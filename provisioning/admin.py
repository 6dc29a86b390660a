"""Django admin views of runs and their steps, read-only: the engine alone writes them."""

from django.contrib import admin

from provisioning.models import Run, StepRun
from tenants.admin import ReadOnlyAdmin


class StepRunInline(admin.TabularInline):
    model = StepRun
    fields = ("position", "name", "status", "attempts", "started_at", "finished_at", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Run)
class RunAdmin(ReadOnlyAdmin):
    list_display = (
        "id", "tenant", "action", "reason", "status", "outage", "created_at", "finished_at"
    )  # fmt: skip
    list_filter = ("action", "status", "reason", "outage")
    search_fields = ("tenant__slug", "requested_by_name", "error")
    inlines = [StepRunInline]
