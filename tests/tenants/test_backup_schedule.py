"""Each tenant's backup schedule: the beat follows it, the page and the API change it (audited,
refused in words), and the page warns by the plan's RPO."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from provisioning.errors import StepFailed
from tenants import backups, backupschedule
from tenants.models import AuditEvent, Backup, Plan, Tenant
from tests import services as svc
from tests.factories import TenantFactory, plan

pytestmark = pytest.mark.django_db
Frequency = Tenant.BackupFrequency
Action = AuditEvent.Action


@pytest.fixture
def configured(settings):
    # Backups need both configured; nothing here commits, so no worker is sent and nothing
    # connects to either.
    settings.PORTAL_MARIADB_URL = svc.MARIADB_URL
    settings.PORTAL_S3_ENDPOINT_URL = "http://127.0.0.1:9"
    return settings


def _ready(owner, **fields) -> Tenant:
    return TenantFactory(owner=owner, state=Tenant.State.READY, **fields)


def _backup(tenant, ago: timedelta, state=Backup.State.DONE) -> Backup:
    """A backup begun `ago` before now: the clock moved by its timestamp, as the beat reads it."""
    item = Backup.objects.create(tenant=tenant, state=state, reason="scheduled")
    begun = timezone.now() - ago
    Backup.objects.filter(pk=item.pk).update(created_at=begun, finished_at=begun)
    return item


def _started(django_capture_on_commit_callbacks) -> set[int]:
    with django_capture_on_commit_callbacks() as queued:
        started = backups.backups_schedule()
    assert len(queued) >= len(started)  # each sent to a worker (test restores too)
    assert all(item.state == Backup.State.RUNNING for item in started)
    return {item.tenant_id for item in started}


def test_the_beat_backs_up_each_tenant_when_its_own_schedule_says(
    requester, configured, django_capture_on_commit_callbacks
):
    daily = _ready(requester)  # the default: daily
    six = _ready(requester, backup_frequency=Frequency.EVERY_6H)
    _backup(daily, timedelta(hours=23, minutes=50))
    _backup(six, timedelta(hours=5, minutes=50))

    assert _started(django_capture_on_commit_callbacks) == set()

    Backup.objects.filter(tenant=six).update(created_at=timezone.now() - timedelta(hours=6))
    assert _started(django_capture_on_commit_callbacks) == {six.pk}
    scheduled = six.backups.get(state=Backup.State.RUNNING)
    assert scheduled.reason == "scheduled"

    # The daily one comes a day after its last good backup; the running one isn't doubled.
    Backup.objects.filter(tenant=daily).update(created_at=timezone.now() - timedelta(hours=24))
    assert _started(django_capture_on_commit_callbacks) == {daily.pk}
    assert _started(django_capture_on_commit_callbacks) == set()


def test_the_global_interval_is_only_the_default(
    requester, configured, settings, django_capture_on_commit_callbacks
):
    settings.PORTAL_BACKUP_INTERVAL_HOURS = 12
    default = _ready(requester)
    daily = _ready(requester, backup_frequency=Frequency.DAILY)
    for tenant in (default, daily):
        _backup(tenant, timedelta(hours=13))
    assert _started(django_capture_on_commit_callbacks) == {default.pk}


def test_a_chosen_hour_is_when_a_daily_backup_comes(
    requester, configured, django_capture_on_commit_callbacks
):
    now = timezone.now().astimezone(UTC)
    past_hour = (now - timedelta(hours=1)).hour
    coming_hour = (now + timedelta(hours=2)).hour
    at_past = _ready(requester, backup_frequency=Frequency.DAILY, backup_hour=past_hour)
    at_coming = _ready(requester, backup_frequency=Frequency.DAILY, backup_hour=coming_hour)
    for tenant in (at_past, at_coming):
        _backup(tenant, timedelta(hours=12))  # a day from it is not yet, the hour may be

    assert _started(django_capture_on_commit_callbacks) == {at_past.pk}


def test_a_weekly_backup_comes_on_its_day(
    requester, configured, django_capture_on_commit_callbacks
):
    no_promise = plan()
    Plan.objects.filter(pk=no_promise.pk).update(backup_max_age_hours=None)
    today = timezone.now().astimezone(UTC).weekday()
    days = Tenant.Weekday.values
    on_today, later = (
        _ready(requester, plan=no_promise, backup_frequency=Frequency.WEEKLY, backup_weekday=day)
        for day in (days[today], days[(today + 2) % 7])
    )
    for tenant in (on_today, later):
        _backup(tenant, timedelta(days=3))  # a week from it is not yet, the day may be

    assert _started(django_capture_on_commit_callbacks) == {on_today.pk}


def test_a_failed_backup_is_tried_again_an_hour_later_not_at_every_look(
    requester, configured, django_capture_on_commit_callbacks
):
    tenant = _ready(requester)
    _backup(tenant, timedelta(hours=30))
    failed = _backup(tenant, timedelta(minutes=40), state=Backup.State.FAILED)
    assert _started(django_capture_on_commit_callbacks) == set()
    Backup.objects.filter(pk=failed.pk).update(created_at=timezone.now() - timedelta(minutes=61))
    assert _started(django_capture_on_commit_callbacks) == {tenant.pk}


def test_off_takes_no_scheduled_backup(requester, configured, django_capture_on_commit_callbacks):
    no_promise = plan()
    Plan.objects.filter(pk=no_promise.pk).update(backup_max_age_hours=None)
    tenant = _ready(requester, plan=no_promise, backup_frequency=Frequency.OFF)
    assert _started(django_capture_on_commit_callbacks) == set()
    assert not backupschedule.backup_overdue(tenant)  # nothing was promised


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("frequency", "hour", "last", "due", "weekday"),
    [
        (Frequency.EVERY_6H, None, "2026-12-01 10:20", "2026-12-01 16:20", ""),
        (Frequency.DAILY, None, "2026-12-01 10:20", "2026-12-02 10:20", ""),
        # At 03:00: the first one after the last, so a backup by hand never makes it later.
        (Frequency.DAILY, 3, "2026-12-01 03:05", "2026-12-02 03:00", ""),
        (Frequency.DAILY, 3, "2026-12-01 15:00", "2026-12-02 03:00", ""),
        (Frequency.DAILY, 3, "2026-12-01 02:58", "2026-12-01 03:00", ""),
        # Begun within the beat's minute before the hour: that hour's.
        (Frequency.DAILY, 3, "2026-12-01 02:59:30", "2026-12-02 03:00", ""),
        # Weekly: on its day (2026-12-01 is a Tuesday; Sunday unless chosen), at its hour or
        # midnight, the first after the last, so never more than a week apart.
        (Frequency.WEEKLY, None, "2026-12-01 10:20", "2026-12-06 00:00", ""),
        (Frequency.WEEKLY, 23, "2026-12-06 23:30", "2026-12-13 23:00", ""),
        (Frequency.WEEKLY, 23, "2026-12-06 22:30", "2026-12-06 23:00", ""),
        (Frequency.WEEKLY, 3, "2026-12-01 10:20", "2026-12-06 03:00", "sunday"),
        (Frequency.WEEKLY, 3, "2026-12-01 10:20", "2026-12-02 03:00", "wednesday"),
        (Frequency.WEEKLY, 3, "2026-12-01 02:00", "2026-12-01 03:00", "tuesday"),
        (Frequency.WEEKLY, 3, "2026-12-01 03:05", "2026-12-08 03:00", "tuesday"),
        (Frequency.WEEKLY, None, "2026-11-30 23:00", "2026-12-07 00:00", "monday"),
    ],
)
def test_when_the_next_backup_is_due(frequency, hour, last, due, weekday):
    weekly_plan = Plan(title="Big", backup_max_age_hours=168, backup_retention_days=30)
    tenant = Tenant(
        plan=weekly_plan, backup_frequency=frequency, backup_hour=hour, backup_weekday=weekday
    )
    assert backupschedule.next_backup_at(tenant, _at(last)) == _at(due)


@pytest.mark.parametrize(
    ("frequency", "weekday", "previous", "early", "next_look"),
    [
        (Frequency.DAILY, "", "2026-11-30 03:01", "2026-12-01 02:59:30", "2026-12-01 03:04:30"),
        (
            Frequency.WEEKLY,
            "tuesday",
            "2026-11-24 03:01",
            "2026-12-01 02:59:30",
            "2026-12-01 03:04:30",
        ),
    ],
)
def test_a_backup_the_beat_took_a_moment_early_is_not_taken_again(
    frequency, weekday, previous, early, next_look
):
    """The beat takes a backup due within SLACK at once: that one is the slot's, and the next
    look (the slot now past) must not take a second."""
    weekly_plan = Plan(title="Big", backup_max_age_hours=168, backup_retention_days=30)
    tenant = Tenant(
        plan=weekly_plan, backup_frequency=frequency, backup_hour=3, backup_weekday=weekday
    )
    assert backupschedule.backup_due(_with_times(tenant, _at(previous)), _at(early))  # 30 s early
    assert not backupschedule.backup_due(_with_times(tenant, _at(early)), _at(next_look))


def _with_times(tenant: Tenant, last_good_at) -> Tenant:
    # As with_backup_times annotates it.
    tenant.last_good_at, tenant.running_since, tenant.last_failed_at = last_good_at, None, None
    tenant.created_at = _at("2026-11-01 00:00")
    return tenant


def test_a_choice_the_plan_no_longer_allows_gives_way_to_the_longest_it_does():
    tenant = Tenant(plan=Plan(title="Small", backup_max_age_hours=24), backup_frequency="weekly")
    assert backupschedule.effective_hours(tenant) == 24
    words = backupschedule.schedule_words(tenant)
    assert words.startswith("Backed up daily: “weekly” is further apart than the Small plan")


def _post(client, tenant, **data):
    return client.post(reverse("tenants:backup_schedule", args=[tenant.pk]), data)


def test_the_owner_chooses_a_schedule_on_the_page_audited(client, requester, backups_on):
    tenant = _ready(requester)
    client.force_login(requester)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert "Backed up daily (the platform&#x27;s default); backups are kept 7 days." in page

    answer = _post(client, tenant, frequency="daily", hour="4")
    assert answer.status_code == 302
    tenant.refresh_from_db()
    assert (tenant.backup_frequency, tenant.backup_hour) == ("daily", 4)
    event = AuditEvent.objects.get(action=Action.TENANT_BACKUP_SCHEDULE_CHANGED)
    assert event.before == {"frequency": "default", "hour": None, "weekday": ""}
    assert event.after == {"frequency": "daily", "hour": 4, "weekday": ""}
    assert event.actor == requester
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert "Backed up daily at 04:00 UTC; backups are kept 7 days." in page
    # None yet: due at once, said so, not as the past moment the tenant was made.
    assert "Next scheduled backup: due now; the beat takes it within minutes." in page


def test_in_plan_mode_the_page_offers_no_backup_nor_clone_and_says_why(client, requester):
    # run.sh's portal (no MariaDB, no S3) showed "Back up now" and "Clone to staging…", each
    # only ever refused, and a "next scheduled backup" the beat would never take.
    tenant = _ready(requester)
    client.force_login(requester)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert 'id="btn-backup"' not in page and 'id="btn-clone"' not in page
    assert 'id="next-backup"' not in page
    assert "need the platform's MariaDB and S3 configured; in plan mode none are" in page
    assert 'id="id_backup_frequency"' in page  # the schedule is still the owner's to choose


def test_a_weekly_schedule_has_its_day_sunday_unless_chosen(client, requester):
    tenant = _ready(requester)
    Plan.objects.filter(pk=tenant.plan_id).update(backup_max_age_hours=168)
    client.force_login(requester)
    assert _post(client, tenant, frequency="weekly", hour="3").status_code == 302
    tenant.refresh_from_db()
    assert tenant.backup_weekday == "sunday"
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert "Backed up weekly on Sundays at 03:00 UTC; backups are kept 7 days." in page
    assert "empty: a day after the last one (daily), midnight of its day (weekly)." in page

    data = {"frequency": "weekly", "hour": "3", "weekday": "wednesday"}
    assert _post(client, tenant, **data).status_code == 302
    tenant.refresh_from_db()
    assert tenant.backup_weekday == "wednesday"
    event = AuditEvent.objects.filter(action=Action.TENANT_BACKUP_SCHEDULE_CHANGED).latest("pk")
    assert (event.before["weekday"], event.after["weekday"]) == ("sunday", "wednesday")
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert "Backed up weekly on Wednesdays at 03:00 UTC" in page
    assert '<option value="wednesday" selected>' in page

    assert _post(client, tenant, frequency="daily").status_code == 302
    tenant.refresh_from_db()
    assert tenant.backup_weekday == ""  # a day belongs to weekly backups only


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (
            {"frequency": "weekly", "weekday": "funday"},
            "Choose a day of the week, Monday to Sunday.",
        ),
        (
            {"frequency": "daily", "weekday": "friday"},
            "A day of the week goes with weekly backups only; leave it empty.",
        ),
    ],
)
def test_a_day_that_makes_no_sense_is_said_beside_it_as_chosen(client, requester, data, words):
    tenant = _ready(requester)
    Plan.objects.filter(pk=tenant.plan_id).update(backup_max_age_hours=168)
    client.force_login(requester)
    answer = _post(client, tenant, **data)
    assert answer.status_code == 400
    page = answer.content.decode()
    assert f'<p class="error" id="weekday-error" role="alert">{words}</p>' in page
    assert 'aria-describedby="backup-weekday-help weekday-error" aria-invalid="true"' in page
    assert f'<option value="{data["frequency"]}" selected>' in page  # nothing lost
    tenant.refresh_from_db()
    assert (tenant.backup_frequency, tenant.backup_weekday) == ("default", "")
    assert not AuditEvent.objects.filter(action=Action.TENANT_BACKUP_SCHEDULE_CHANGED).exists()


def test_an_admin_chooses_for_anyones_tenant(client, requester, approver):
    tenant = _ready(requester)
    client.force_login(approver)
    assert _post(client, tenant, frequency="12h").status_code == 302
    tenant.refresh_from_db()
    assert tenant.backup_frequency == "12h"


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"frequency": "hourly"}, "Choose one of the listed frequencies."),
        ({}, "Choose how often to back up."),
        ({"frequency": "daily", "hour": "24"}, "Choose an hour from 0 to 23 (UTC), or none."),
        ({"frequency": "6h", "hour": "3"}, "An hour of the day goes with daily or weekly"),
    ],
)
def test_a_schedule_that_makes_no_sense_comes_back_in_words(client, requester, data, words):
    tenant = _ready(requester)
    client.force_login(requester)
    answer = _post(client, tenant, **data)
    assert answer.status_code == 400
    assert words in answer.content.decode()
    tenant.refresh_from_db()
    assert tenant.backup_frequency == "default"
    assert not AuditEvent.objects.filter(action=Action.TENANT_BACKUP_SCHEDULE_CHANGED).exists()


@pytest.mark.parametrize(
    ("frequency", "words"),
    [
        (
            "weekly",
            "Backups weekly (168 hours apart) are too far apart: the Small plan promises a good "
            "backup at least every 24 hours.",
        ),
        (
            "off",
            "Scheduled backups can&#x27;t be switched off: the Small plan promises a good backup "
            "at least every 24 hours.",
        ),
    ],
)
def test_a_schedule_past_the_plans_rpo_is_refused_and_audited(client, requester, frequency, words):
    tenant = _ready(requester)
    client.force_login(requester)
    answer = _post(client, tenant, frequency=frequency)
    assert answer.status_code == 400
    assert words in answer.content.decode()
    refused = AuditEvent.objects.get(action=Action.TENANT_REFUSED)
    assert refused.message.startswith("change the backup schedule of: ")
    assert refused.actor == requester


def test_a_plan_without_an_rpo_lets_backups_be_switched_off(client, requester):
    tenant = _ready(requester)
    Plan.objects.filter(pk=tenant.plan_id).update(backup_max_age_hours=None)
    client.force_login(requester)
    assert _post(client, tenant, frequency="off").status_code == 302
    tenant.refresh_from_db()
    assert tenant.backup_frequency == "off"
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert "No scheduled backups (this plan allows them off)" in page


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"state": Tenant.State.PROVISIONING}, "Only a ready tenant can be given another backup"),
        (
            {"state": Tenant.State.READY, "desired_present": False},
            "Only a ready tenant can be given another backup",
        ),
    ],
)
def test_a_tenant_not_ready_or_going_is_refused_audited(client, requester, fields, words):
    tenant = TenantFactory(owner=requester, **fields)
    client.force_login(requester)
    answer = _post(client, tenant, frequency="12h")
    assert answer.status_code == 400
    assert words in answer.content.decode()
    assert AuditEvent.objects.filter(action=Action.TENANT_REFUSED, object_id=str(tenant.pk))


def test_someone_elses_tenant_is_not_theirs_and_auditors_only_read(
    client, requester, other_requester, auditor
):
    tenant = _ready(requester)
    client.force_login(other_requester)
    assert _post(client, tenant, frequency="12h").status_code == 404
    client.force_login(auditor)
    assert _post(client, tenant, frequency="12h").status_code == 403
    assert 'id="btn-backup-schedule"' not in client.get(tenant.get_absolute_url()).content.decode()
    tenant.refresh_from_db()
    assert tenant.backup_frequency == "default"


def test_the_service_refuses_someone_elses_tenant_audited(requester, other_requester):
    from portal.errors import ApplicationError

    tenant = _ready(requester)
    with pytest.raises(ApplicationError, match="Only the owner or a platform admin"):
        backupschedule.tenant_backup_schedule_set(
            tenant=tenant, actor=other_requester, frequency="12h"
        )
    assert AuditEvent.objects.get(action=Action.TENANT_REFUSED).actor == other_requester


def test_schedule_changes_are_rate_limited_like_the_other_forms(client, requester, settings):
    settings.PORTAL_RATE_LIMIT_ACTIONS = "2/86400"
    tenant = _ready(requester)
    client.force_login(requester)
    assert _post(client, tenant, frequency="12h").status_code == 302
    assert _post(client, tenant, frequency="6h").status_code == 302
    answer = _post(client, tenant, frequency="daily")
    assert answer.status_code == 429 and int(answer["Retry-After"]) > 0
    assert "Too many changes; try again in" in answer.content.decode()
    tenant.refresh_from_db()
    assert tenant.backup_frequency == "6h"


def test_the_page_warns_by_the_plans_rpo(client, requester):
    tenant = _ready(requester)
    _backup(tenant, timedelta(hours=25))
    client.force_login(requester)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert 'id="backup-overdue"' in page
    assert "the Small plan promises one at least every 24 hours" in page

    Plan.objects.filter(pk=tenant.plan_id).update(backup_max_age_hours=48)
    assert 'id="backup-overdue"' not in client.get(tenant.get_absolute_url()).content.decode()


def test_a_backup_begun_in_time_holds_the_warning_until_it_ends(requester):
    tenant = _ready(requester)
    _backup(tenant, timedelta(hours=24, minutes=10))
    running = _backup(tenant, timedelta(minutes=10), state=Backup.State.RUNNING)
    assert not backupschedule.backup_overdue(tenant)
    Backup.objects.filter(pk=running.pk).update(state=Backup.State.FAILED)
    assert backupschedule.backup_overdue(tenant)
    # One begun long after the RPO ran out (after failures) holds nothing back.
    Backup.objects.create(tenant=tenant, reason="scheduled")
    assert backupschedule.backup_overdue(tenant)


@pytest.mark.parametrize(
    ("mariadb", "s3", "ionos", "offered"),
    [
        ("", "", "", False),  # plan mode
        ("mysql://root:x@127.0.0.1:1/", "", "", False),
        ("", "http://127.0.0.1:1", "", False),
        ("mysql://root:x@127.0.0.1:1/", "http://127.0.0.1:1", "", True),
        # S3 counted as configured by the IONOS token, its endpoint missing: offered, and the
        # backup itself says what to set (backups_configured raises).
        ("mysql://root:x@127.0.0.1:1/", "", "token", True),
    ],
)
def test_the_page_offers_backups_as_the_drivers_are_configured_without_building_them(
    settings, mariadb, s3, ionos, offered
):
    settings.PORTAL_MARIADB_URL, settings.PORTAL_S3_ENDPOINT_URL = mariadb, s3
    settings.PORTAL_IONOS_TOKEN = ionos
    try:
        configured = backups.backups_configured()
    except StepFailed:
        configured = True
    assert backups.backups_offered() is offered is configured
    # Asked at every render and poll of the page: the settings read, no S3 client built (the
    # clients took ~14 ms a call, 50 calls ~0.7 s; the settings take microseconds).
    began = time.perf_counter()
    for _ in range(50):
        backups.backups_offered()
    assert time.perf_counter() - began < 0.1
