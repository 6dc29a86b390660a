"""System checks of the number settings: none below the least it can mean."""

from django.conf import settings
from django.core.checks import Error, register

# The beat's periods (CELERY_BEAT_SCHEDULE): 0 or less would have it send the task without end.
PERIODS = (
    "PORTAL_SWEEP_INTERVAL",
    "PORTAL_HEARTBEAT_INTERVAL",
    "PORTAL_PURGE_INTERVAL",
    "PORTAL_BACKUP_SCHEDULE_SECONDS",
    "PORTAL_USAGE_SAMPLE_INTERVAL",
    "PORTAL_HOST_RECHECK_INTERVAL",
)
# Days, counts, delays and limits: 0 means none or at once where the setting says so; below 0
# means nothing (a grace period that ended before the deletion, -3 hosts, a negative retention).
COUNTS = (
    "PORTAL_DELETE_GRACE_DAYS",
    "PORTAL_DRIFT_INTERVAL",
    "PORTAL_DRIFT_RETENTION_DAYS",
    "PORTAL_REMINDER_DAYS",
    "PORTAL_HOST_RECHECK_DAYS",
    "PORTAL_BACKUP_VERIFY_DAYS",
    "PORTAL_UPSIZE_RULE_WINDOW_DAYS",
    "PORTAL_MAX_CUSTOM_HOSTS",
    "PORTAL_MAX_TENANTS_PER_USER",
    "PORTAL_EMAIL_RETRY_DELAY",
    "PORTAL_OUTAGE_RETRY_DELAY",
    "PORTAL_MESSAGE_GRACE",
    "PORTAL_WORKER_STALE_AFTER",
    "PORTAL_STEP_RETRY_BUDGET",
    "PORTAL_STEP_MAX_RETRIES",
    "PORTAL_RETRY_BASE_DELAY",
    "PORTAL_RETRY_MAX_DELAY",
    "PORTAL_REQUEST_RETRY_BASE_DELAY",
    "PORTAL_REQUEST_RETRY_MAX_DELAY",
    "PORTAL_WEBHOOK_ATTEMPTS",
    "PORTAL_WEBHOOK_RETRY_BASE",
)


@register()
def numbers_in_range(app_configs=None, **kwargs) -> list[Error]:
    errors = []
    for names, least, what in ((PERIODS, 1, "a period of the beat"), (COUNTS, 0, "")):
        for name in names:
            value = getattr(settings, name, None)
            if value is not None and value < least:
                errors.append(
                    Error(
                        f"{name} is {value:g}: {what or 'it'} can't be below {least}.",
                        hint=f"Set {name} to {least} or more, or unset it for its default.",
                        id="portal.E010",
                    )
                )
    return errors
