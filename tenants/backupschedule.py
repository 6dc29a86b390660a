"""Each tenant's backup schedule: choosing it, when its next backup is due, whether it's overdue."""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min, Q, QuerySet
from django.utils import timezone

from portal.errors import ApplicationError
from tenants import backups
from tenants.audit import audit_record
from tenants.models import AuditEvent, Backup, Plan, Tenant
from tenants.suspension import refuse

Frequency = Tenant.BackupFrequency
Weekday = Tenant.Weekday
# A weekly backup's day when none was chosen.
DEFAULT_WEEKDAY = Weekday.SUNDAY
WEEK = 168
# Hours between backups of each fixed choice; None: no scheduled backups.
HOURS = {
    Frequency.EVERY_6H: 6,
    Frequency.EVERY_12H: 12,
    Frequency.DAILY: 24,
    Frequency.WEEKLY: 168,
    Frequency.OFF: None,
}
# The beat looks every PORTAL_BACKUP_SCHEDULE_SECONDS, a moment early or late: a backup due
# within the next minute is taken now rather than a look later.
SLACK = timedelta(minutes=1)
# A scheduled backup that failed is tried again this much later, not at every look.
RETRY_AFTER = timedelta(hours=1)


def _look() -> timedelta:
    """The most a backup due by its schedule may wait for the beat's look at it."""
    return timedelta(seconds=settings.PORTAL_BACKUP_SCHEDULE_SECONDS) + SLACK


def chosen_hours(frequency: str) -> int | None:
    if frequency == Frequency.DEFAULT:
        return settings.PORTAL_BACKUP_INTERVAL_HOURS
    return HOURS[frequency]


def effective_hours(tenant: Tenant) -> int | None:
    """Hours between the tenant's scheduled backups. A choice its plan no longer allows (the plan
    or its RPO changed since) gives way to the longest fixed one the RPO allows."""
    hours = chosen_hours(tenant.backup_frequency)
    rpo = tenant.plan.backup_max_age_hours
    if rpo is None or (hours is not None and hours <= rpo):
        return hours
    fitting = [h for h in HOURS.values() if h is not None and h <= rpo]
    return max(fitting, default=min(h for h in HOURS.values() if h is not None))


def _rpo_words(plan: Plan) -> str:
    hours = plan.backup_max_age_hours
    return f"the {plan.title} plan promises a good backup at least every {hours} hours"


def weekday_of(tenant: Tenant) -> str:
    """The day of the week a weekly schedule backs the tenant up on."""
    return tenant.backup_weekday or DEFAULT_WEEKDAY


def choice_problems(frequency: str, hour: int | None, weekday: str = "") -> dict[str, str]:
    """Why the choice makes no sense whatever the plan, a sentence by the field at fault; empty
    if it does."""
    if frequency not in Frequency.values:
        return {"frequency": "Choose one of the listed frequencies."}
    problems = {}
    hours = chosen_hours(frequency)
    if hour is not None and not 0 <= hour <= 23:
        problems["hour"] = "Choose an hour from 0 to 23 (UTC)."
    elif hour is not None and (hours is None or hours < 24):
        problems["hour"] = (
            "An hour of the day goes with daily or weekly backups only; leave it empty."
        )
    if weekday and weekday not in Weekday.values:
        problems["weekday"] = "Choose a day of the week, Monday to Sunday."
    elif weekday and hours != WEEK:
        problems["weekday"] = "A day of the week goes with weekly backups only; leave it empty."
    return problems


def schedule_problem(*, plan: Plan, frequency: str, hour: int | None, weekday: str = "") -> str:
    """Why the plan or the choice itself rules the schedule out, in a sentence; "" if it fits."""
    problems = choice_problems(frequency, hour, weekday)
    if problems:
        return " ".join(problems.values())
    hours = chosen_hours(frequency)
    rpo = plan.backup_max_age_hours
    if hours is None and rpo is not None:
        return f"Scheduled backups can't be switched off: {_rpo_words(plan)}."
    if hours is not None and rpo is not None and hours > rpo:
        label = Frequency(frequency).label.lower()
        return (
            f"Backups {label} ({hours} hours apart) are too far apart: {_rpo_words(plan)}. "
            "Choose a schedule at most that far apart."
        )
    return ""


def tenant_backup_schedule_set(
    *, tenant: Tenant, actor, frequency: str, hour: int | None = None, weekday: str = ""
) -> Tenant:
    """Choose how often the beat backs the tenant up (at which hour, UTC, and for weekly
    backups on which day, Sunday unless chosen), audited before and after; refusals an auditor
    wants to see (not theirs, not ready, past the RPO) audited."""
    verb = "change the backup schedule of"
    backups.check_allowed(tenant, actor, verb, "given another backup schedule")
    problem = schedule_problem(plan=tenant.plan, frequency=frequency, hour=hour, weekday=weekday)
    if problem:
        raise refuse(tenant=tenant, actor=actor, what=verb, why=problem)
    if chosen_hours(frequency) == WEEK:
        weekday = weekday or DEFAULT_WEEKDAY
    before = {
        "frequency": tenant.backup_frequency,
        "hour": tenant.backup_hour,
        "weekday": tenant.backup_weekday,
    }
    after = {"frequency": frequency, "hour": hour, "weekday": weekday}
    if before == after:
        return tenant
    with transaction.atomic():
        won = Tenant.objects.filter(
            pk=tenant.pk,
            state=Tenant.State.READY,
            desired_present=True,
            backup_frequency=tenant.backup_frequency,
            backup_hour=tenant.backup_hour,
            backup_weekday=tenant.backup_weekday,
        ).update(
            backup_frequency=frequency,
            backup_hour=hour,
            backup_weekday=weekday,
            updated_at=timezone.now(),
        )
        if not won:
            raise ApplicationError("This tenant changed a moment ago; reload the page.")
        audit_record(
            action=AuditEvent.Action.TENANT_BACKUP_SCHEDULE_CHANGED,
            actor=actor,
            obj=tenant,
            before=before,
            after=after,
        )
    tenant.refresh_from_db()
    return tenant


def next_backup_at(tenant: Tenant, last_at: datetime | None) -> datetime | None:
    """When the beat takes the next scheduled backup, counted from the newest good one (begun at
    `last_at`); None when none is scheduled. A daily one at a chosen hour, and a weekly one
    (on its day, at its hour or midnight), come at the first such time after the last one,
    so a backup taken by hand at another time never leaves more than the interval (and the
    beat's minute of SLACK) until the next."""
    hours = effective_hours(tenant)
    if hours is None:
        return None
    if last_at is None:
        return tenant.created_at  # none yet: at once
    if hours == WEEK:
        day = Weekday.values.index(weekday_of(tenant))
        return _first_after(last_at, tenant.backup_hour or 0, day)
    if tenant.backup_hour is None or hours < 24:
        return last_at + timedelta(hours=hours)
    return _first_after(last_at, tenant.backup_hour, None)


def _first_after(moment: datetime, hour: int, weekday: int | None) -> datetime:
    """The first o'clock `hour` (UTC) after `moment`, on the weekday (Monday 0) if one is given.
    A backup begun within SLACK before a slot is that slot's (the beat takes one due within it
    at once), else the next look, past the slot, would take it a second time."""
    moment = (moment + SLACK).astimezone(UTC)
    slot = moment.replace(hour=hour, minute=0, second=0, microsecond=0)
    if weekday is None:
        return slot if slot > moment else slot + timedelta(days=1)
    slot += timedelta(days=(weekday - slot.weekday()) % 7)
    return slot if slot > moment else slot + timedelta(days=7)


def backup_due(tenant: Tenant, now: datetime) -> bool:
    """Whether the beat starts the tenant's scheduled backup now (a tenant annotated by
    with_backup_times): its schedule has one due, none is under way, and none failed within
    RETRY_AFTER since the last good one."""
    if tenant.running_since is not None:
        return False
    failed = tenant.last_failed_at
    if failed and (tenant.last_good_at is None or failed > tenant.last_good_at):
        if now - failed < RETRY_AFTER:
            return False
    at = next_backup_at(tenant, tenant.last_good_at)
    return at is not None and at <= now + SLACK


def with_backup_times(tenants: QuerySet) -> QuerySet:
    """Tenants with when their newest good backup began (last_good_at), the one under way did
    (running_since) and the newest failed one did (last_failed_at), in one query."""
    state = "backups__state"
    return tenants.select_related("plan").annotate(
        last_good_at=Max("backups__created_at", filter=Q(**{state: Backup.State.DONE})),
        running_since=Min("backups__created_at", filter=Q(**{state: Backup.State.RUNNING})),
        last_failed_at=Max("backups__created_at", filter=Q(**{state: Backup.State.FAILED})),
    )


def is_overdue(tenant: Tenant, now: datetime) -> bool:
    """The plan's RPO is past: the newest good backup (or, with none, the tenant itself) is
    older than it allows, and no backup the beat began by its first look past that moment is
    still under way (its outcome is awaited: a daily backup on a 24-hour RPO takes its
    minutes; one begun later, after failures, holds nothing back). A tenant annotated by
    with_backup_times; a plan without an RPO promises nothing."""
    rpo = tenant.plan.backup_max_age_hours
    if rpo is None:
        return False
    deadline = (tenant.last_good_at or tenant.created_at) + timedelta(hours=rpo)
    if tenant.running_since is not None and tenant.running_since <= deadline + _look():
        return False
    return now > deadline


def backup_overdue(tenant: Tenant) -> bool:
    """Whether a ready tenant's newest good backup is older than its plan's RPO allows."""
    row = with_backup_times(Tenant.objects.filter(pk=tenant.pk)).first()
    return row is not None and row.state == Tenant.State.READY and is_overdue(row, timezone.now())


def schedule_words(tenant: Tenant) -> str:
    """The schedule the beat follows, in words, for the tenant page."""
    if not tenant.is_live:
        gone = {
            Tenant.State.REJECTED: "the request was rejected",
            Tenant.State.DELETED: "the request was withdrawn"
            if tenant.is_withdrawn
            else "the tenant was deleted",
        }[tenant.state]
        return f"No scheduled backups: {gone}."
    hours = effective_hours(tenant)
    if hours is None:
        return "No scheduled backups (this plan allows them off); “Back up now” still works."
    every = {6: "every 6 hours", 12: "every 12 hours", 24: "daily", WEEK: "weekly"}.get(
        hours, f"every {hours} hours"
    )
    if hours == WEEK:
        every += f" on {Weekday(weekday_of(tenant)).label}s"
    if tenant.backup_hour is not None and hours >= 24:
        every += f" at {tenant.backup_hour:02d}:00 UTC"
    words = f"Backed up {every}"
    if tenant.backup_frequency == Frequency.DEFAULT:
        words += " (the platform's default)"
    if hours != chosen_hours(tenant.backup_frequency):
        chosen = tenant.get_backup_frequency_display().lower()
        words += f": “{chosen}” is further apart than {_rpo_words(tenant.plan)}"
    return f"{words}; backups are kept {tenant.plan.backup_retention_days} days."
