"""What the API hands out and takes in; input is checked by the pages' own forms."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from provisioning.health import tenant_health
from provisioning.models import Run, StepRun
from provisioning.tenanturl import tenant_url
from provisioning.waiting import tenant_waiting
from tenants import backups, backupschedule, customhosts, hostproof
from tenants.confirmation import confirmation_problem
from tenants.forms import BackupScheduleForm, PlanChangeForm, RejectForm, TenantRequestForm
from tenants.models import AuditEvent, Backup, Plan, Tenant
from tenants.validation import SLUG_MAX, SLUG_MIN


class PlanSerializer(serializers.ModelSerializer):
    class Meta:
        model = Plan
        fields = [
            "name",
            "title",
            "description",
            "summary",
            "cpu_request_millicores",
            "cpu_limit_millicores",
            "memory_request_mib",
            "memory_limit_mib",
            "storage_gib",
            "replicas",
            "max_pods",
            "max_db_connections",
            "backup_retention_days",
            "backup_max_age_hours",
            "is_active",
        ]


class TenantSerializer(serializers.ModelSerializer):
    plan = serializers.SlugRelatedField(slug_field="name", read_only=True)
    owner = serializers.SlugRelatedField(slug_field="username", read_only=True)
    decided_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    state_display = serializers.CharField(
        source="state_label",
        read_only=True,
        help_text="The state in words; a request withdrawn before any decision (state "
        '"deleted") reads Withdrawn.',
    )
    url = serializers.SerializerMethodField()

    class Meta:
        model = Tenant
        fields = [
            "id",
            "slug",
            "display_name",
            "plan",
            "wordpress_version",
            "admin_email",
            "host",
            "url",
            "state",
            "state_display",
            "state_changed_at",
            "desired_present",
            "owner",
            "created_at",
            "updated_at",
            "decided_by",
            "decided_at",
            "rejection_reason",
            "last_error",
            "clone_of",
            "cloned_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "clone_of": {"help_text": "The tenant this one is a clone (staging site) of."},
            "cloned_at": {"help_text": "When the original's backup was copied into the clone."},
        }

    def get_url(self, tenant: Tenant) -> str:
        # The one source of tenant URLs: the legacy setting is empty unless set (then "://host/").
        return tenant_url(tenant, "/")


class HealthSerializer(serializers.Serializer):
    """A serving tenant's health: degraded while its latest repair failed (an outage)."""

    degraded = serializers.BooleanField()
    since = serializers.DateTimeField(allow_null=True)
    cause = serializers.CharField(allow_blank=True)


class WaitingSerializer(serializers.Serializer):
    """What holds a tenant's build (or removal) back: an outside system that is down."""

    system = serializers.CharField(help_text="e.g. Kubernetes, Authentik, MariaDB.")
    since = serializers.DateTimeField(help_text="The outage's first passing error.")
    retry_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the portal tries again by itself; null while it is trying. A platform "
        "admin may retry now (POST retry/).",
    )
    runs = serializers.IntegerField(help_text="Runs in a row the outage ended.")
    cause = serializers.CharField(allow_blank=True)


_OPENAPI_TYPES = {
    serializers.BooleanField: {"type": "boolean"},
    serializers.IntegerField: {"type": "integer"},
    serializers.DateTimeField: {"type": "string", "format": "date-time"},
    serializers.CharField: {"type": "string"},
}


def _nullable_object(serializer_class) -> dict:
    """The serializer as an inline object that may be null: OpenAPI 3.0 validators refuse a
    null through a $ref, however nullable the field that refers to it."""
    properties = {}
    for name, field in serializer_class().fields.items():
        schema = dict(_OPENAPI_TYPES[type(field)], nullable=field.allow_null)
        if field.help_text:
            schema["description"] = str(field.help_text)
        properties[name] = schema
    return {
        "type": "object",
        "nullable": True,
        "description": serializer_class.__doc__,
        "properties": properties,
        "required": list(properties),
    }


class CustomHostSerializer(serializers.Serializer):
    """A custom host name and its DNS TXT proof, as the tenant page's "Host names" shows it."""

    name = serializers.CharField()
    own = serializers.BooleanField(help_text="The site's own address (the request's host).")
    proven = serializers.BooleanField(help_text="Its TXT record was found: the site answers on it.")
    proven_at = serializers.DateTimeField(allow_null=True)
    txt_name = serializers.CharField(help_text="Where to create the TXT record.")
    txt_value = serializers.CharField(help_text="The TXT record's value.")
    checked_at = serializers.DateTimeField(allow_null=True)
    check_result = serializers.CharField(help_text="What the last check found, in words.")


def custom_host_data(tenant: Tenant) -> list[dict]:
    return [
        {
            "name": row.name,
            "own": row.name == tenant.host,
            "proven": row.is_proven,
            "proven_at": row.proven_at,
            "txt_name": hostproof.proof_name(row.name),
            "txt_value": hostproof.proof_value(tenant.pk, row.name),
            "checked_at": row.checked_at,
            "check_result": row.check_result,
        }
        for row in customhosts.hosts_of(tenant)
    ]


class BackupScheduleStateSerializer(serializers.Serializer):
    """The tenant's backup schedule as its page shows it."""

    frequency = serializers.ChoiceField(choices=Tenant.BackupFrequency.choices)
    hour = serializers.IntegerField(allow_null=True, help_text="Hour of the day (UTC), or null.")
    weekday = serializers.ChoiceField(
        choices=Tenant.Weekday.choices,
        help_text="The day of weekly backups (Sunday unless chosen); null when not weekly.",
        allow_null=True,
    )
    interval_hours = serializers.IntegerField(
        allow_null=True,
        help_text="Hours between scheduled backups the beat follows (null: none); shorter than "
        "the choice when the plan's RPO no longer allows that.",
    )
    next_at = serializers.DateTimeField(
        allow_null=True, help_text="When the next scheduled backup is due (null: none)."
    )
    max_age_hours = serializers.IntegerField(
        allow_null=True, help_text="The plan's RPO (null: no promise)."
    )
    overdue = serializers.BooleanField(
        help_text="The newest good backup is older than the plan's RPO allows."
    )
    words = serializers.CharField()


def backup_schedule_data(tenant: Tenant) -> dict:
    last = backups.last_good_backup(tenant)
    serving = tenant.state == Tenant.State.READY and tenant.desired_present
    return {
        "frequency": tenant.backup_frequency,
        "hour": tenant.backup_hour,
        "weekday": backupschedule.weekday_of(tenant)
        if backupschedule.effective_hours(tenant) == backupschedule.WEEK
        else None,
        "interval_hours": backupschedule.effective_hours(tenant),
        "next_at": backupschedule.next_backup_at(tenant, last and last.created_at)
        if serving
        else None,
        "max_age_hours": tenant.plan.backup_max_age_hours,
        "overdue": backupschedule.backup_overdue(tenant),
        "words": backupschedule.schedule_words(tenant),
    }


class PlanRuleSerializer(serializers.Serializer):
    """What the usage rule found on the owner's latest request for a larger plan."""

    plan = serializers.CharField(help_text="The plan asked for.")
    pending = serializers.BooleanField(help_text="Still a request waiting for a platform admin.")
    met = serializers.BooleanField(help_text="The measured use met the rule.")
    applied = serializers.BooleanField(help_text="The rule moved the tenant at once.")
    verdict = serializers.CharField(help_text="Whether the rule was met and why (not), in words.")
    measured_by = serializers.CharField(
        help_text="The measure the rule weighed: real use (the Metrics API) or, standing in, "
        "the quota's requests, and why, in words."
    )
    measures = serializers.CharField(help_text="Each resource's average and peak share, in words.")
    rule = serializers.CharField(help_text="The rule, in words (its settings).")
    at = serializers.DateTimeField(help_text="When the rule looked.")


def plan_rule_data(tenant: Tenant) -> dict | None:
    found = tenant.plan_evidence or {}
    if not found.get("verdict"):
        return None
    pending = tenant.requested_plan is not None and tenant.requested_plan.name == found["plan"]
    return {
        **{k: found.get(k) for k in ("plan", "met", "applied", "verdict", "rule", "at")},
        "measured_by": found.get("measured_by") or "",
        "pending": pending,
        "measures": "; ".join(found.get("measures") or []),
    }


class TenantDetailSerializer(TenantSerializer):
    """One tenant as its detail page shows it: with its health, what it waits for, its custom
    host names, its backup schedule and what the usage rule found on its latest request for a
    larger plan."""

    health = serializers.SerializerMethodField()
    waiting = serializers.SerializerMethodField()
    hosts = serializers.SerializerMethodField()
    backup_schedule = serializers.SerializerMethodField()
    plan_rule = serializers.SerializerMethodField()

    class Meta(TenantSerializer.Meta):
        fields = [
            *TenantSerializer.Meta.fields,
            "health",
            "waiting",
            "hosts",
            "backup_schedule",
            "plan_rule",
        ]
        read_only_fields = fields

    @extend_schema_field(BackupScheduleStateSerializer)
    def get_backup_schedule(self, tenant: Tenant):
        return BackupScheduleStateSerializer(backup_schedule_data(tenant)).data

    @extend_schema_field(_nullable_object(PlanRuleSerializer))
    def get_plan_rule(self, tenant: Tenant):
        """Null until the owner asks for a larger plan."""
        found = plan_rule_data(tenant)
        return PlanRuleSerializer(found).data if found else None

    @extend_schema_field(CustomHostSerializer(many=True))
    def get_hosts(self, tenant: Tenant):
        return CustomHostSerializer(custom_host_data(tenant), many=True).data

    @extend_schema_field(_nullable_object(HealthSerializer))
    def get_health(self, tenant: Tenant):
        """Null unless the tenant is ready (serving)."""
        health = tenant_health(tenant)
        return HealthSerializer(health).data if health else None

    @extend_schema_field(_nullable_object(WaitingSerializer))
    def get_waiting(self, tenant: Tenant):
        """Null unless an outage holds the tenant back."""
        held = tenant_waiting(tenant)
        return WaitingSerializer(held).data if held else None


def _form_invalid(form) -> serializers.ValidationError:
    return serializers.ValidationError(
        {field: [str(e) for e in errors] for field, errors in form.errors.items()}
    )


class _FormBackedSerializer(serializers.Serializer):
    """Declares the fields for the schema; the page's form does the checking, so a script
    reads exactly the sentences the page shows."""

    form_class = None

    def make_form(self, data):
        return self.form_class(data)

    def to_internal_value(self, data):
        if not hasattr(data, "get"):
            raise serializers.ValidationError({"__all__": ["Send a JSON object."]})
        form = self.make_form(data)
        if not form.is_valid():
            raise _form_invalid(form)
        return form.cleaned_data


def _plan_by_name(form_class):
    """The page's form, its plan named as the API shows plans rather than by database id."""

    class Form(form_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.fields["plan"].to_field_name = "name"

    return Form


class TenantRequestSerializer(_FormBackedSerializer):
    form_class = _plan_by_name(TenantRequestForm)

    def make_form(self, data):
        # The form judges the whole request, the caller's allowance included.
        request = self.context.get("request")
        return self.form_class(data, owner=request.user if request else None)

    slug = serializers.CharField(help_text="3–30 lower-case letters, digits and hyphens.")
    display_name = serializers.CharField(max_length=100)
    plan = serializers.CharField(help_text="The plan's name, e.g. small (see /api/v1/plans/).")
    wordpress_version = serializers.CharField()
    admin_email = serializers.EmailField()
    host = serializers.CharField(required=False, allow_blank=True, help_text="Default: derived.")


_CHOOSE = "Choose approve or reject."  # the approval page's words


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(
        choices=["approve", "reject"],
        error_messages={"required": _CHOOSE, "invalid_choice": _CHOOSE, "null": _CHOOSE},
    )
    reason = serializers.CharField(
        required=False, allow_blank=True, help_text="Why, for a rejection: the requester reads it."
    )

    def validate(self, attrs):
        if attrs["decision"] == "reject":
            form = RejectForm({"reason": attrs.get("reason", "")})
            if not form.is_valid():
                raise _form_invalid(form)
            attrs["reason"] = form.cleaned_data["reason"]
        return attrs


class StepRunSerializer(serializers.ModelSerializer):
    duration_seconds = serializers.SerializerMethodField()

    class Meta:
        model = StepRun
        fields = [
            "name",
            "position",
            "status",
            "attempts",
            "started_at",
            "finished_at",
            "duration_seconds",
            "waiting_since",
            "log",
            "error",
        ]
        read_only_fields = fields

    def get_duration_seconds(self, row: StepRun) -> float | None:
        return row.duration.total_seconds() if row.duration else None


class RunSerializer(serializers.ModelSerializer):
    steps = StepRunSerializer(many=True, read_only=True)
    tenant = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Run
        fields = [
            "id",
            "number",
            "tenant",
            "action",
            "reason",
            "requested_by_name",
            "status",
            "created_at",
            "started_at",
            "finished_at",
            "not_before",
            "message",
            "outage",
            "error",
            "drift",
            "steps",
        ]
        read_only_fields = fields


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = list(AuditEvent.EXPORTED_FIELDS)
        read_only_fields = fields


class PendingRequestSerializer(TenantSerializer):
    waiting_seconds = serializers.SerializerMethodField()

    class Meta(TenantSerializer.Meta):
        fields = [*TenantSerializer.Meta.fields, "waiting_seconds"]
        read_only_fields = fields

    def get_waiting_seconds(self, tenant: Tenant) -> float:
        return (self.context["now"] - tenant.created_at).total_seconds()


class CapacitySerializer(serializers.Serializer):
    cpu_committed_millicores = serializers.IntegerField()
    memory_committed_mib = serializers.IntegerField()
    cpu_after_millicores = serializers.IntegerField()
    memory_after_mib = serializers.IntegerField()
    cpu_total_millicores = serializers.IntegerField()
    memory_total_mib = serializers.IntegerField()
    cpu_percent_after = serializers.IntegerField()
    memory_percent_after = serializers.IntegerField()
    fits = serializers.BooleanField()


class ApprovalSerializer(PendingRequestSerializer):
    capacity = serializers.SerializerMethodField()
    own_request = serializers.SerializerMethodField()
    hosts = serializers.SerializerMethodField()

    class Meta(PendingRequestSerializer.Meta):
        fields = [*PendingRequestSerializer.Meta.fields, "capacity", "own_request", "hosts"]
        read_only_fields = fields

    @extend_schema_field(CustomHostSerializer(many=True))
    def get_hosts(self, tenant: Tenant):
        """The request's own custom host (if any) and its proof: approval waits for it."""
        return CustomHostSerializer(custom_host_data(tenant), many=True).data

    @extend_schema_field(CapacitySerializer(allow_null=True))
    def get_capacity(self, tenant: Tenant):
        hint = self.context.get("capacity")
        return CapacitySerializer(hint).data if hint else None

    def get_own_request(self, tenant: Tenant) -> bool:
        return tenant.owner_id == self.context["request"].user.pk


class BackupSerializer(serializers.ModelSerializer):
    """What the detail page lists of a backup; where it sits in the bucket stays inside."""

    class Meta:
        model = Backup
        fields = [
            "id",
            "created_at",
            "finished_at",
            "state",
            "reason",
            "size_bytes",
            "wordpress_version",
            "error",
            "verified_at",
            "verify_error",
        ]
        read_only_fields = fields


class SuspendSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=1000,
        help_text="Why (an admin suspending someone else's tenant must say): the owner reads it.",
    )


class PlanChangeSerializer(_FormBackedSerializer):
    form_class = _plan_by_name(PlanChangeForm)

    plan = serializers.CharField(help_text="The new plan's name (see /api/v1/plans/).")
    decision = serializers.ChoiceField(
        choices=["decline"],
        required=False,
        help_text="decline: a platform admin says no to the owner's request for a larger plan "
        "(then no plan is needed); to grant it, send that plan.",
    )


class BackupScheduleSerializer(_FormBackedSerializer):
    """How often the beat backs the tenant up, checked by the page's form and then against the
    plan (off only where the plan promises no RPO; never further apart than its RPO)."""

    form_class = BackupScheduleForm

    frequency = serializers.ChoiceField(choices=Tenant.BackupFrequency.choices)
    hour = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=0,
        max_value=23,
        help_text="Hour of the day (UTC) of daily and weekly backups; null: any.",
    )
    weekday = serializers.ChoiceField(
        choices=Tenant.Weekday.choices,
        required=False,
        allow_blank=True,
        help_text="Day of weekly backups, monday to sunday; empty or left out: sunday.",
    )


class HostNameSerializer(serializers.Serializer):
    name = serializers.CharField(
        max_length=300,
        help_text="A host name of yours, e.g. blog.example.com.",
        error_messages={"required": "Give the host name, e.g. blog.example.com."},
    )


class UpgradeSerializer(serializers.Serializer):
    version = serializers.CharField(
        max_length=20, help_text="A WordPress version above the tenant's, e.g. 6.8."
    )


class RestoreSerializer(serializers.Serializer):
    """Restoring overwrites the site: the caller names the backup and types the tenant's name,
    as on the page."""

    backup = serializers.IntegerField(min_value=1, help_text="A done backup's id (see backups/).")
    confirm_slug = serializers.CharField(
        allow_blank=True, trim_whitespace=False, help_text="The tenant's name, typed."
    )

    def validate(self, attrs):
        tenant = self.context["tenant"]
        errors = {}  # both at once: the caller fixes everything in one round
        problem = confirmation_problem(attrs["confirm_slug"], tenant.slug)
        if problem:
            errors["confirm_slug"] = [problem]
        if not tenant.backups.filter(pk=attrs["backup"]).exists():
            errors["backup"] = ["That backup doesn't exist or didn't finish; choose another."]
        if errors:
            raise serializers.ValidationError(errors)
        return {"backup_id": attrs["backup"]}  # what the service takes


class CloneSerializer(serializers.Serializer):
    """The clone's own name and host (both optional) and the original's backup to fill it."""

    slug = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=SLUG_MAX * 2,
        # The rule's words, not the cap's (DRF formats the message without the length).
        error_messages={"max_length": f"Use {SLUG_MIN} to {SLUG_MAX} characters."},
        help_text="Default: <slug>-staging.",
    )
    host = serializers.CharField(
        required=False, allow_blank=True, max_length=253, help_text="Default: the platform's."
    )
    backup = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        help_text="A done backup's id of the original; none: a fresh one, once it is built.",
    )

    def validate(self, attrs):
        # What the service takes.
        return {
            "slug": attrs.get("slug", ""),
            "host": attrs.get("host", ""),
            "backup_id": attrs.get("backup"),
        }


class PromoteSerializer(serializers.Serializer):
    """Promoting overwrites the clone's original: its name typed, as on the page."""

    confirm_slug = serializers.CharField(
        allow_blank=True, trim_whitespace=False, help_text="The original's name, typed."
    )
