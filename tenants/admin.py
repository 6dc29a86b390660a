"""Django admin: plans for platform admins, tenants to inspect, the audit trail read-only."""

import csv
import json

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.http import StreamingHttpResponse
from django.urls import path
from django.utils import timezone

from provisioning.models import Run
from provisioning.waiting import BUILDING, tenant_waiting
from tenants.admindates import drill_down
from tenants.audit import audit_record
from tenants.models import AuditEvent, Plan, Tenant, TenantHost, TenantMember
from tenants.selectors import audit_actor_names


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = (
        "name",
        "title",
        "cpu_request_millicores",
        "cpu_limit_millicores",
        "memory_request_mib",
        "memory_limit_mib",
        "storage_gib",
        "replicas",
        "max_pods",
        "backup_retention_days",
        "backup_max_age_hours",
        "is_active",
    )
    list_editable = ("is_active",)
    search_fields = ("name", "title")

    def has_delete_permission(self, request, obj=None):
        # A plan in use can't go (PROTECT); an unused one may.
        return super().has_delete_permission(request, obj) and not (obj and obj.tenants.exists())

    @transaction.atomic
    def save_model(self, request, obj, form, change):
        before = Plan.objects.filter(pk=obj.pk).values().first() if change else None
        super().save_model(request, obj, form, change)
        after = Plan.objects.filter(pk=obj.pk).values().first()
        audit_record(
            action=AuditEvent.Action.PLAN_CHANGED,
            actor=request.user,
            obj=obj,
            before=before,
            after=after,
            message="changed" if change else "added",
        )

    @transaction.atomic
    def delete_model(self, request, obj):
        before = Plan.objects.filter(pk=obj.pk).values().first()
        audit_record(
            action=AuditEvent.Action.PLAN_CHANGED,
            actor=request.user,
            obj=obj,
            before=before,
            message="deleted",
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        # One by one, so each deletion is on record.
        for plan in queryset:
            self.delete_model(request, plan)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Nobody adds, changes or deletes these in the admin, superusers included."""

    # A filtered list says "N results" without counting the whole table again ("Show all"
    # instead of "M total"): one COUNT(*) less over 100,000 audit events (bench/).
    show_full_result_count = False

    def get_queryset(self, request):
        # The date hierarchy's years, months or days without a DISTINCT over the whole table.
        return drill_down(super().get_queryset(request))

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class _ReadOnlyInline(admin.TabularInline):
    """Rows changed on the tenant page, where each change is audited; shown here only."""

    extra = 0

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class TenantMemberInline(_ReadOnlyInline):
    """Who besides the owner may sign in to the site."""

    model = TenantMember
    fields = ("username", "added_by", "added_at")
    readonly_fields = fields


class TenantHostInline(_ReadOnlyInline):
    """Custom host names and how their DNS TXT proof went."""

    model = TenantHost
    fields = ("name", "proven_at", "checked_at", "check_result", "added_by", "added_at")
    readonly_fields = fields


@admin.register(Tenant)
class TenantAdmin(ReadOnlyAdmin):
    """Read-only: tenants change through the portal's actions, which audit and reconcile."""

    inlines = [TenantMemberInline, TenantHostInline]

    list_display = (
        "slug", "display_name", "state_shown", "waiting_for", "plan", "owner", "host", "created"
    )  # fmt: skip
    list_filter = ("state", "plan")
    search_fields = ("slug", "display_name", "host", "owner__username")
    date_hierarchy = "created_at"
    readonly_fields = ("waiting",)

    def get_queryset(self, request):
        # The list's "waiting for" in the same query: the outage that ended the last run.
        ended = (
            Run.objects.filter(tenant=OuterRef("pk"))
            .exclude(reason="drift")
            .exclude(status__in=Run.OPEN)
            .order_by("-created_at", "-id")
        )
        return (
            super().get_queryset(request).annotate(last_outage=Subquery(ended.values("outage")[:1]))
        )

    @admin.display(description="state", ordering="state")
    def state_shown(self, obj):
        # A request withdrawn before any decision is "deleted" in the database, not in words.
        return obj.state_label

    @admin.display(description="created", ordering="created_at")
    def created(self, obj: Tenant) -> str:
        # With its zone, as the audit list's times; and formatted here: Django's localized date
        # format was a third of the time of a row's cells (100 rows a page, bench/).
        return timezone.localtime(obj.created_at).strftime("%Y-%m-%d %H:%M %Z")

    @admin.display(description="waiting for")
    def waiting_for(self, obj):
        return obj.last_outage if obj.state in BUILDING and obj.last_outage else "—"

    @admin.display(description="waiting")
    def waiting(self, obj):
        held = tenant_waiting(obj)
        if held is None:
            return "—"
        then = (
            f"tried again at {held.retry_at:%Y-%m-%d %H:%M} UTC"
            if held.retry_at
            else "being tried again now"
        )
        return (
            f"for {held.system} since {held.since:%Y-%m-%d %H:%M} UTC ({held.runs} run(s) in "
            f"a row ended by it); {then}. A platform admin can retry now on the tenant page."
        )


class _Echo:
    def write(self, value):
        return value


@admin.action(description="Export the selected events as CSV")
def export_csv(modeladmin, request, queryset):
    fields = AuditEvent.EXPORTED_FIELDS
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(fields)
        for event in queryset.order_by("id").iterator(chunk_size=2000):
            yield writer.writerow([_csv_safe(_cell(getattr(event, f))) for f in fields])

    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
    return response


def _cell(value):
    # before/after as JSON, which a reader can parse, rather than Python's repr of a dict.
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, default=str)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def _csv_safe(value) -> str:
    text = "" if value is None else str(value)
    # Spreadsheets run cells starting with these as formulas; quote them out.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


class ActorNameFilter(admin.AllValuesFieldListFilter):
    """Django's filter by every value, the values found without a SELECT DISTINCT over every
    event (the list's slowest query at 100,000 events, growing with the trail)."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        self.lookup_choices = audit_actor_names()


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("when", "actor_name", "action_name", "object_repr", "ip", "message")
    list_filter = ("action", "created_at", ("actor_name", ActorNameFilter))
    search_fields = ("actor_name", "object_repr", "object_id", "message", "request_id", "ip")
    date_hierarchy = "created_at"
    actions = [export_csv]
    list_per_page = 100

    class Media:
        css = {"all": ["portal/admin.css"]}  # the message column wraps instead of being cut

    @admin.display(description="Time", ordering="created_at")
    def when(self, event: AuditEvent) -> str:
        return event.when

    @admin.display(description="Action", ordering="action")
    def action_name(self, event: AuditEvent) -> str:
        return event.get_action_display()

    def get_readonly_fields(self, request, obj=None):
        # An event's page says its time and action as the list does: with the zone, by name.
        shown = {"created_at": "when", "action": "action_name"}
        return [shown.get(f.name, f.name) for f in self.model._meta.fields]

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def get_urls(self):
        export = self.admin_site.admin_view(self.export_filtered)
        return [path("export.csv", export, name="tenants_auditevent_export")] + super().get_urls()

    def export_filtered(self, request):
        """Every event the change list's filters and search select, not just one page."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        return export_csv(self, request, changelist.get_queryset(request))

    def changelist_view(self, request, extra_context=None):
        query = request.GET.urlencode()
        extra_context = {
            **(extra_context or {}),
            "export_query": f"?{query}" if query else "",
            # The widest list of the admin: beside the filters, the app sidebar left the
            # message 60 px at 1280 px and cut the rest off.
            "is_nav_sidebar_enabled": False,
        }
        return super().changelist_view(request, extra_context)
