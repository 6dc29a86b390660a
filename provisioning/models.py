"""Runs and step records: the database's account of every reconcile of every tenant."""

from django.conf import settings
from django.db import models

from tenants.models import Tenant


class Run(models.Model):
    """One reconcile of one tenant: what it was for, who asked, and how it went."""

    class Action(models.TextChoices):
        APPLY = "apply", "Provision"
        DESTROY = "destroy", "Deprovision"
        CHECK = "check", "Drift check"

    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Superseded"

    OPEN = (Status.PENDING, Status.RUNNING, Status.WAITING)

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="runs")
    action = models.CharField(max_length=10, choices=Action.choices)
    reason = models.CharField(max_length=40, help_text="Why the run started, e.g. approved.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150, default="system")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When a waiting or retrying run should next be picked up.
    not_before = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # Who last claimed the run (host:pid:pass) and its fencing token, raised by every claim:
    # the engine's writes count only while the token is still the one it claimed with.
    holder = models.CharField(max_length=64, blank=True)
    token = models.PositiveBigIntegerField(default=0)
    # What a drift check found, one line per difference; empty when all matched.
    drift = models.JSONField(default=list, blank=True)
    # What the run is doing right now, in words, overwritten as it moves (never appended).
    message = models.CharField(max_length=300, blank=True)
    # The run's live queue message: only a message carrying this wake-up number acts, any older
    # copy drops itself; wakeup_at is when that message is due (the sweep re-sends a lost one).
    wakeup = models.PositiveBigIntegerField(default=0)
    wakeup_at = models.DateTimeField(null=True, blank=True)
    # The outside system whose outage ended the run (its step's retry budget spent), if so:
    # the tenant waits for it and the sweep starts a new run later, instead of failing it.
    outage = models.CharField(max_length=40, blank=True)
    # Last sign of life of a worker on the run (its claim and the lease heartbeat).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # What the tenant image was to the worker that last claimed the run (provisioning.rollout):
    # a ready tenant whose last apply was built from another one is reconciled again.
    image_fingerprint = models.CharField(max_length=64, blank=True)
    # The run's place among its tenant's runs, from 1, never two runs' (the constraint below):
    # the "run #N" of the tenant page, of its history's events and of the API, one number for
    # the same run wherever it is named.
    number = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "status"])]
        constraints = [
            # Each number run_request gives names one run (0: a row made without it, a test's).
            models.UniqueConstraint(
                fields=["tenant", "number"],
                condition=models.Q(number__gt=0),
                name="run_number_unique_per_tenant",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} of {self.tenant} ({self.get_status_display()})"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN


class StepRun(models.Model):
    """One step of one run: its attempts, timing, a short log and the error in words."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        WAITING = "waiting", "Waiting"
        RETRYING = "retrying", "Retrying"
        UNCHANGED = "unchanged", "Already in place"
        CHANGED = "changed", "Applied"
        PLANNED = "planned", "Planned (plan mode)"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Not reached"

    DONE = (Status.UNCHANGED, Status.CHANGED, Status.PLANNED)

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    name = models.CharField(max_length=30)
    position = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # When the step first began waiting on something outside, for the wait timeout.
    waiting_since = models.DateTimeField(null=True, blank=True)
    # When the step first hit a passing error in this run, for the retry budget.
    failing_since = models.DateTimeField(null=True, blank=True)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    # A destroy's look-ups afterwards, one {"object", "result"} per object it removed.
    checks = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "name"], name="steprun_unique_per_run")
        ]

    def __str__(self) -> str:
        return f"{self.name}: {self.get_status_display()}"

    @property
    def is_done(self) -> bool:
        return self.status in self.DONE

    @property
    def duration(self):
        if self.started_at and self.finished_at:
            return self.finished_at - self.started_at
        return None
