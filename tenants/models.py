"""Plans, tenants and the append-only audit trail."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone


class Plan(models.Model):
    """A named size of tenant: what its namespace may use and how WordPress runs in it."""

    name = models.SlugField(max_length=30, unique=True, help_text="Short name, e.g. small.")
    title = models.CharField(max_length=60)
    description = models.CharField(max_length=200, blank=True)
    cpu_request_millicores = models.PositiveIntegerField(
        validators=[MinValueValidator(10), MaxValueValidator(64000)],
        help_text="CPU each WordPress pod requests, in millicores (1000 = one core).",
    )
    cpu_limit_millicores = models.PositiveIntegerField(
        validators=[MinValueValidator(10), MaxValueValidator(64000)],
        help_text="CPU each WordPress pod may use at most, in millicores.",
    )
    memory_request_mib = models.PositiveIntegerField(
        validators=[MinValueValidator(32), MaxValueValidator(262144)],
        help_text="Memory each WordPress pod requests, in MiB.",
    )
    memory_limit_mib = models.PositiveIntegerField(
        validators=[MinValueValidator(32), MaxValueValidator(262144)],
        help_text="Memory each WordPress pod may use at most, in MiB.",
    )
    storage_gib = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(4096)],
        help_text="Size of the tenant's persistent volume, in GiB.",
    )
    replicas = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="Number of WordPress pods.",
    )
    max_pods = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(2), MaxValueValidator(200)],
        help_text="Most pods the tenant's namespace may run (quota).",
    )
    max_db_connections = models.PositiveSmallIntegerField(
        default=30,
        validators=[MinValueValidator(1), MaxValueValidator(1000)],
        help_text="Most connections the tenant's database user may hold at once.",
    )
    backup_retention_days = models.PositiveSmallIntegerField(
        default=7,
        validators=[MinValueValidator(1), MaxValueValidator(3650)],
        help_text="Days the tenant's daily backups are kept (its newest good one always is).",
    )
    # The RPO: the schedule a tenant chooses may not be further apart, and the tenant page and
    # /metrics (portal_backup_overdue) warn once its newest good backup is older.
    backup_max_age_hours = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        default=24,
        validators=[MinValueValidator(6), MaxValueValidator(8760)],
        verbose_name="backup RPO (hours)",
        help_text="Most hours the newest good backup of a tenant may be old (the platform's RPO "
        "is 24). Empty: no promise, and owners may switch scheduled backups off.",
    )
    is_active = models.BooleanField(default=True, help_text="Offered on the request form.")
    content_pipeline_default = models.BooleanField(
        default=False,
        help_text="New requests on this plan have the AI content pipeline switched on.",
    )
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "name"]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        errors = {}
        if self.cpu_limit_millicores is not None and self.cpu_request_millicores is not None:
            if self.cpu_limit_millicores < self.cpu_request_millicores:
                errors["cpu_limit_millicores"] = "The CPU limit can't be below the CPU request."
        if self.memory_limit_mib is not None and self.memory_request_mib is not None:
            if self.memory_limit_mib < self.memory_request_mib:
                errors["memory_limit_mib"] = "The memory limit can't be below the memory request."
        if self.replicas is not None and self.max_pods is not None:
            # Room for a rolling update and the one-off setup Job beside the running pods.
            if self.max_pods < self.replicas + 2:
                errors["max_pods"] = "Allow at least two pods more than the WordPress replicas."
        if errors:
            raise ValidationError(errors)

    @property
    def summary(self) -> str:
        cpu = self.cpu_limit_millicores / 1000
        return (
            f"{cpu:g} CPU, {self.memory_limit_mib} MiB, {self.storage_gib} GiB, "
            f"{self.replicas} replica{'s' if self.replicas != 1 else ''}"
        )


class Tenant(models.Model):
    """One WordPress site: what was asked for (desired state) and where it stands (state)."""

    class State(models.TextChoices):
        REQUESTED = "requested", "Awaiting approval"
        REJECTED = "rejected", "Rejected"
        APPROVED = "approved", "Approved, queued"
        PROVISIONING = "provisioning", "Provisioning"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"
        DELETING = "deleting", "Deleting"
        DELETED = "deleted", "Deleted"

    class BackupFrequency(models.TextChoices):
        # The default follows PORTAL_BACKUP_INTERVAL_HOURS (24: daily).
        DEFAULT = "default", "The platform's default"
        EVERY_6H = "6h", "Every 6 hours"
        EVERY_12H = "12h", "Every 12 hours"
        DAILY = "daily", "Daily"
        WEEKLY = "weekly", "Weekly"
        OFF = "off", "Off"

    class Weekday(models.TextChoices):
        # In the order of Python's date.weekday(), Monday first; the scheduler counts on it.
        MONDAY = "monday", "Monday"
        TUESDAY = "tuesday", "Tuesday"
        WEDNESDAY = "wednesday", "Wednesday"
        THURSDAY = "thursday", "Thursday"
        FRIDAY = "friday", "Friday"
        SATURDAY = "saturday", "Saturday"
        SUNDAY = "sunday", "Sunday"

    # Written once, enforced by tenants.states.transition(): every state change goes through it.
    TRANSITIONS: dict[str, frozenset[str]] = {
        State.REQUESTED: frozenset({State.APPROVED, State.REJECTED}),
        # A rejected request may be edited and sent again by its requester.
        State.REJECTED: frozenset({State.REQUESTED}),
        State.APPROVED: frozenset({State.PROVISIONING, State.DELETING}),
        State.PROVISIONING: frozenset({State.READY, State.FAILED, State.DELETING}),
        State.READY: frozenset({State.PROVISIONING, State.FAILED, State.DELETING}),
        State.FAILED: frozenset({State.PROVISIONING, State.DELETING}),
        State.DELETING: frozenset({State.DELETED, State.FAILED}),
        # A platform admin recreates a deleted tenant from its final backup (tenants/recreate.py).
        State.DELETED: frozenset({State.APPROVED}),
    }
    # States in which a tenant counts against its owner's allowance and holds its slug and host.
    LIVE_STATES = frozenset(set(State.values) - {State.REJECTED, State.DELETED})

    slug = models.CharField(max_length=30)
    display_name = models.CharField(max_length=100)
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="tenants")
    wordpress_version = models.CharField(max_length=20)
    admin_email = models.EmailField()
    host = models.CharField(max_length=253)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="tenants"
    )
    state = models.CharField(max_length=20, choices=State.choices, default=State.REQUESTED)
    state_changed_at = models.DateTimeField(auto_now_add=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Desired state beyond the form's fields: False once deletion is asked for.
    desired_present = models.BooleanField(default=True)

    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)

    # The S3 bucket holding the tenant's prefix, fixed at approval so that pointing
    # PORTAL_S3_BUCKET at a new bucket moves only tenants approved from then on.
    s3_bucket = models.CharField(max_length=63, blank=True)

    # The largest volume (GiB) the tenant has had: a volume never shrinks, so a smaller plan
    # keeps this size (provisioning.spec takes the larger of the two).
    volume_gib = models.PositiveIntegerField(default=0)
    # A larger plan the owner asked for, waiting for a platform admin's decision.
    requested_plan = models.ForeignKey(
        Plan, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    plan_requested_at = models.DateTimeField(null=True, blank=True)
    # What the usage rule found on the owner's latest request for a larger plan (met or not, and
    # why, with the measures: tenants/upsizing_rule.py), shown with it and kept after it.
    plan_evidence = models.JSONField(default=dict, blank=True)

    # Deletion with a way back: the tenant is suspended and deleted after this time by the
    # periodic purge, unless its deletion is cancelled; deletion_suspended says whether the
    # suspension is the deletion's own (and so lifted when it is cancelled).
    delete_after = models.DateTimeField(null=True, blank=True, db_index=True)
    deletion_suspended = models.BooleanField(default=False)

    # The version an upgrade under way started from (put back if it fails), and what the last
    # failed upgrade did, for the tenant page.
    upgrade_from = models.CharField(max_length=20, blank=True)
    upgrade_note = models.TextField(blank=True)
    # The version asked for while the backup before it is taken, and that backup once taken.
    upgrade_to = models.CharField(max_length=20, blank=True)
    upgrade_backup = models.ForeignKey(
        "Backup", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    # A restore a worker is doing, and how the last one went, for the tenant page.
    restoring = models.BooleanField(default=False)
    restore_note = models.TextField(blank=True)
    # The restore under way, so that another worker can take it up when its own dies: the
    # backup, who asked, the safety backup once taken (reused, never retaken over a half-done
    # restore), the live message's number (older copies drop themselves), when it was sent and
    # how many times a worker began it (tenants/restores.py).
    restore_backup = models.ForeignKey(
        "Backup", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    restore_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    restore_safety = models.ForeignKey(
        "Backup", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    restore_wakeup = models.PositiveIntegerField(default=0)
    restore_sent_at = models.DateTimeField(null=True, blank=True)
    restore_tries = models.PositiveSmallIntegerField(default=0)
    # What the worker does under that mechanism: a restore, a clone's fill, or a promote into
    # this site (restore_from: the clone promoted).
    restore_kind = models.CharField(
        max_length=10,
        default="restore",
        choices=[("restore", "Restore"), ("fill", "Clone fill"), ("promote", "Promote")],
    )
    restore_from = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    # A clone (a staging site) of another tenant: built like any tenant, then filled from a
    # backup of the original (the chosen one, or a fresh one when None), and able to promote its
    # content back into it (tenants/clone.py). cloned_at: when its content was copied.
    clone_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="clones"
    )
    clone_backup = models.ForeignKey(
        "Backup", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    cloned_at = models.DateTimeField(null=True, blank=True)

    # Suspension is desired state too (the engine scales the site to zero and points its host at
    # the platform's maintenance page), so a drift repair keeps a suspended tenant suspended.
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # Shown to the owner on the tenant page.
    suspension_reason = models.TextField(blank=True)
    # When the beat backs the tenant up (tenants/backupschedule.py): how often, at which hour of
    # the day (UTC) for daily and weekly backups (None: whenever the last one was, or midnight
    # of a weekly one's day), and on which day of the week for weekly ones ("" otherwise).
    backup_frequency = models.CharField(
        max_length=10, choices=BackupFrequency.choices, default=BackupFrequency.DEFAULT
    )
    backup_hour = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(23)]
    )
    backup_weekday = models.CharField(max_length=9, choices=Weekday.choices, blank=True)
    # The AI content pipeline (OpenWebUI -> pipeline service -> this WordPress); desired state.
    content_pipeline = models.BooleanField(default=False)
    # What the pipeline's signed confirmation webhook last said (tenants/pipelinehook.py).
    pipeline_confirmed_at = models.DateTimeField(null=True, blank=True)
    pipeline_post = models.CharField(max_length=300, blank=True)
    pipeline_error = models.CharField(max_length=500, blank=True)
    pipeline_error_at = models.DateTimeField(null=True, blank=True)

    # The failing step and its cause in words, for the pages; empty unless failed.
    last_error = models.TextField(blank=True)

    # The reconcile lease: which run holds the tenant and until when (see provisioning.locks).
    lock_holder = models.CharField(max_length=64, blank=True)
    lock_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                Lower("slug"),
                condition=~Q(state__in=["rejected", "deleted"]),
                name="tenant_slug_unique_live",
                violation_error_message="That name is already taken.",
            ),
            models.UniqueConstraint(
                Lower("host"),
                condition=~Q(state__in=["rejected", "deleted"]),
                name="tenant_host_unique_live",
                violation_error_message="That host name is already in use.",
            ),
        ]
        indexes = [models.Index(fields=["state", "created_at"])]

    def __str__(self) -> str:
        return self.slug

    def get_absolute_url(self) -> str:
        return reverse("tenants:detail", args=[self.pk])

    @property
    def namespace(self) -> str:
        return settings.PORTAL_NAMESPACE_PATTERN.format(slug=self.slug)

    @property
    def is_live(self) -> bool:
        return self.state in self.LIVE_STATES

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    @property
    def is_busy(self) -> bool:
        return self.state in (self.State.APPROVED, self.State.PROVISIONING, self.State.DELETING)

    @property
    def is_withdrawn(self) -> bool:
        """A request taken back before anyone approved it: deleted with no decision on record."""
        return self.state == self.State.DELETED and self.decided_at is None

    @property
    def state_label(self) -> str:
        return "Withdrawn" if self.is_withdrawn else self.get_state_display()

    @property
    def state_css(self) -> str:
        return "withdrawn" if self.is_withdrawn else self.state


class TenantMember(models.Model):
    """Someone besides the owner who may sign in to the tenant's WordPress (via Authentik)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="members")
    # The person's Authentik user name: the sso step puts that user in the tenant's group.
    username = models.CharField(max_length=150)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["username"]
        constraints = [
            models.UniqueConstraint(
                "tenant",
                Lower("username"),
                name="tenant_member_unique",
                violation_error_message="That person is already a member.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.username} on {self.tenant}"


class TenantHost(models.Model):
    """A host name the tenant's owner wants the site under, served only once its DNS TXT
    record proves they control it (tenants/hostproof.py). The request's own custom host gets
    one too, and the request waits for its proof before an admin may approve it."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="hosts")
    name = models.CharField(max_length=253)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)
    # When the TXT record was found with the tenant's value; a proven host is served.
    proven_at = models.DateTimeField(null=True, blank=True)
    # The last check, in words, for the page (what was found, what to do).
    checked_at = models.DateTimeField(null=True, blank=True)
    check_result = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                "tenant",
                Lower("name"),
                name="tenant_host_name_unique",
                violation_error_message="The site has that host already.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} for {self.tenant}"

    @property
    def is_proven(self) -> bool:
        return self.proven_at is not None


class Backup(models.Model):
    """One backup of a tenant: its database dump and media under backups/<slug>/<stamp>/."""

    class State(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Phase(models.TextChoices):
        # In the order provisioning.backup.write_backup takes them (its PHASES).
        DUMP = "dump", "Dumping the database"
        UPLOAD = "upload", "Uploading the dump"
        FILES = "files", "Archiving wp-content (a Job in the site's namespace)"
        MEDIA = "media", "Copying the media"
        MANIFEST = "manifest", "Writing the manifest"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="backups")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.RUNNING)
    reason = models.CharField(max_length=40, default="manual")
    prefix = models.CharField(max_length=200, blank=True)
    size_bytes = models.BigIntegerField(default=0)
    wordpress_version = models.CharField(max_length=20, blank=True)
    error = models.TextField(blank=True)
    # While it runs, for the tenant page: the part under way and since when, how many of its
    # parts are done, and the bytes written so far.
    phase = models.CharField(max_length=10, choices=Phase.choices, blank=True)
    phase_at = models.DateTimeField(null=True, blank=True)
    steps_done = models.PositiveSmallIntegerField(default=0)
    steps_total = models.PositiveSmallIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    # Its test restore (a scratch database and S3 prefix): when one last worked and what it
    # proved, or when one last failed and why; started, while one runs.
    verified_at = models.DateTimeField(null=True, blank=True)
    verify_detail = models.CharField(max_length=500, blank=True)
    verify_error = models.TextField(blank=True)
    verify_failed_at = models.DateTimeField(null=True, blank=True)
    verify_started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.tenant.slug} {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def phase_in_a_sentence(self) -> str:
        """The phase's label inside a sentence: its first letter lowered, not its names (a Job
        stays a Job, as Kubernetes calls it)."""
        label = self.get_phase_display()
        return label[:1].lower() + label[1:]


class UsageSample(models.Model):
    """One look at a ready tenant's use against its plan (tenants/usage.py): per resource, what
    it used and what it may, in base units (millicores, bytes, pods): the quota's requests, the
    web pods' real CPU and memory use (the Metrics API), the database; kept for the rule's
    window."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="usage_samples")
    # The plan the tenant was on: the rule reads only the samples of its current one.
    plan = models.ForeignKey(Plan, on_delete=models.CASCADE, related_name="+")
    taken_at = models.DateTimeField()
    used = models.JSONField(default=dict)
    hard = models.JSONField(default=dict)
    # Why the sample has no real CPU and memory use (cpu_use, memory_use) from the Metrics API:
    # metrics-server not installed or not answering, the pods not scraped yet; "" when it has.
    use_note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-taken_at"]
        indexes = [models.Index(fields=["tenant", "taken_at"]), models.Index(fields=["taken_at"])]

    def __str__(self) -> str:
        return f"{self.tenant_id} at {self.taken_at:%Y-%m-%d %H:%M}"


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("Audit events are append-only: they can't be changed.")

    def delete(self):
        raise PermissionError("Audit events are append-only: they can't be deleted.")


class AuditEvent(models.Model):
    """One thing someone (or the engine) did, kept forever and chained by hash to the last."""

    class Action(models.TextChoices):
        TENANT_REQUESTED = "tenant.requested", "Tenant requested"
        TENANT_APPROVED = "tenant.approved", "Tenant approved"
        TENANT_REJECTED = "tenant.rejected", "Tenant rejected"
        TENANT_RESUBMITTED = "tenant.resubmitted", "Request edited and sent again"
        TENANT_PROVISIONING = "tenant.provisioning", "Provisioning started"
        TENANT_READY = "tenant.ready", "Tenant ready"
        TENANT_FAILED = "tenant.failed", "Provisioning failed"
        TENANT_RETRIED = "tenant.retried", "Retry requested"
        TENANT_RECONCILED = "tenant.reconciled", "Reconcile requested"
        TENANT_DELETE_REQUESTED = "tenant.delete_requested", "Deletion requested"
        TENANT_DELETED = "tenant.deleted", "Tenant deleted"
        TENANT_RECREATED = "tenant.recreated", "Deleted tenant recreated from its final backup"
        TENANT_DRIFT = "tenant.drift", "Drift found"
        TENANT_DB_PASSWORD_ROTATED = "tenant.db_password_rotated", "Database password rotated"
        TENANT_ADOPTED = "tenant.adopted", "Outside resources adopted"
        TENANT_MEMBER_ADDED = "tenant.member_added", "Member added"
        TENANT_MEMBER_REMOVED = "tenant.member_removed", "Member removed"
        TENANT_HOST_ADDED = "tenant.host_added", "Custom host added"
        TENANT_HOST_PROVEN = "tenant.host_proven", "Custom host proven"
        TENANT_HOST_CHECK_FAILED = "tenant.host_check_failed", "Custom host not proven"
        TENANT_HOST_REMOVED = "tenant.host_removed", "Custom host removed"
        TENANT_SUSPENDED = "tenant.suspended", "Tenant suspended"
        TENANT_RESUMED = "tenant.resumed", "Tenant resumed"
        TENANT_REFUSED = "tenant.refused", "Action refused"
        TENANT_BACKED_UP = "tenant.backed_up", "Backup taken"
        TENANT_BACKUP_FAILED = "tenant.backup_failed", "Backup failed"
        TENANT_RESTORED = "tenant.restored", "Backup restored"
        TENANT_BACKUP_EXPIRED = "tenant.backup_expired", "Backup removed after its retention"
        TENANT_BACKUP_SCHEDULE_CHANGED = "tenant.backup_schedule_changed", "Backup schedule changed"
        TENANT_UPGRADE_REQUESTED = "tenant.upgrade_requested", "WordPress upgrade started"
        TENANT_UPGRADE_ROLLED_BACK = "tenant.upgrade_rolled_back", "WordPress upgrade rolled back"
        TENANT_CLONE_REQUESTED = "tenant.clone_requested", "Clone requested"
        TENANT_CLONED = "tenant.cloned", "Content copied into the clone"
        TENANT_CLONE_FAILED = "tenant.clone_failed", "Copying into the clone failed"
        TENANT_PROMOTE_REQUESTED = "tenant.promote_requested", "Promote of a staging requested"
        TENANT_PROMOTED = "tenant.promoted", "Staging promoted"
        TENANT_PROMOTE_FAILED = "tenant.promote_failed", "Promoting the staging failed"
        TENANT_DELETE_SCHEDULED = "tenant.delete_scheduled", "Deletion scheduled"
        TENANT_DELETE_CANCELLED = "tenant.delete_cancelled", "Deletion cancelled"
        TENANT_PIPELINE = "tenant.pipeline", "Content pipeline switched"
        TENANT_PIPELINE_FAILED = "tenant.pipeline_failed", "Content pipeline publication failed"
        TENANT_PLAN_CHANGED = "tenant.plan_changed", "Plan of the tenant changed"
        TENANT_PLAN_REQUESTED = "tenant.plan_requested", "Larger plan requested"
        TENANT_PLAN_DECLINED = "tenant.plan_declined", "Larger plan declined"
        TENANT_COMMENTED = "tenant.commented", "Comment"
        TENANT_NOTED = "tenant.noted", "Note for admins"
        PLAN_CHANGED = "plan.changed", "Plan changed"
        USER_LOGIN = "user.login", "Signed in"
        USER_LOGIN_FAILED = "user.login_failed", "Sign-in failed"
        USER_LOGOUT = "user.logout", "Signed out"
        USER_ROLE_CHANGED = "user.role_changed", "Role changed"
        USER_CREATED = "user.created", "User created"
        USER_CHANGED = "user.changed", "User changed"
        USER_DELETED = "user.deleted", "User deleted"
        TOKEN_CREATED = "token.created", "API token created"
        TOKEN_REVOKED = "token.revoked", "API token revoked"
        TOKEN_REFUSED = "token.refused", "Revoked or expired API token presented"
        WEBHOOK_CREATED = "webhook.created", "Webhook endpoint registered"
        WEBHOOK_CHANGED = "webhook.changed", "Webhook endpoint changed"
        WEBHOOK_DELETED = "webhook.deleted", "Webhook endpoint removed"
        WEBHOOK_DISABLED = "webhook.disabled", "Webhook endpoint disabled"
        WEBHOOK_ENABLED = "webhook.enabled", "Webhook endpoint enabled again"

    created_at = models.DateTimeField(db_index=True)
    # No database constraint and no cascade: deleting a user must neither be blocked by the
    # audit's immutability nor rewrite actor_id, which the hash covers.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    # A copy, so the record still names the person after their account is gone.
    actor_name = models.CharField(max_length=150)
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=40, choices=Action.choices, db_index=True)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    object_repr = models.CharField(max_length=200, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    message = models.TextField(blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    objects = AuditEventQuerySet.as_manager()

    # What an event shows outside the portal (the API, the admin's CSV export): all but the
    # actor's id, the person named by the copy of their name.
    EXPORTED_FIELDS = (
        "id",
        "created_at",
        "actor_name",
        "ip",
        "request_id",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "before",
        "after",
        "message",
        "prev_hash",
        "hash",
    )

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["object_type", "object_id", "id"]),
            # The admin's actor filter walks it name by name (selectors.audit_actor_names).
            models.Index(fields=["actor_name"]),
        ]
        # Django's internals (related lookups, save) use the base manager: make it ours too.
        base_manager_name = "objects"

    def __str__(self) -> str:
        return f"{self.when} {self.actor_name}: {self.get_action_display()}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("Audit events are append-only: they can't be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events are append-only: they can't be deleted.")

    @property
    def when(self) -> str:
        """The time with its zone: auditors compare it with logs kept elsewhere."""
        return timezone.localtime(self.created_at).strftime("%Y-%m-%d %H:%M:%S %Z")


class MailSent(models.Model):
    """A notification mailed for one audit event: sending the same event again sends nothing."""

    # The audit event the mail tells of (no foreign key: the audit table stays append-only).
    event_id = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=30)
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event_id", "kind"], name="mail_once_per_event")
        ]

    def __str__(self) -> str:
        return f"{self.kind} for event {self.event_id}"
