"""A number setting below the least it can mean stops the portal's commands at their checks."""

import pytest
from django.core.checks import run_checks


def _ours() -> list[str]:
    return [e.msg for e in run_checks() if e.id == "portal.E010"]


def test_the_defaults_pass():
    assert _ours() == []


@pytest.mark.parametrize(
    ("name", "value", "said"),
    [
        ("PORTAL_DELETE_GRACE_DAYS", -3, "PORTAL_DELETE_GRACE_DAYS is -3: it can't be below 0."),
        ("PORTAL_DRIFT_RETENTION_DAYS", -1, "PORTAL_DRIFT_RETENTION_DAYS is -1: it can't be"),
        ("PORTAL_MAX_CUSTOM_HOSTS", -5, "PORTAL_MAX_CUSTOM_HOSTS is -5: it can't be below 0."),
        (
            "PORTAL_SWEEP_INTERVAL",
            0,
            "PORTAL_SWEEP_INTERVAL is 0: a period of the beat can't be below 1.",
        ),
        ("PORTAL_PURGE_INTERVAL", -60, "PORTAL_PURGE_INTERVAL is -60: a period of the beat"),
    ],
)
def test_a_setting_below_its_least_is_an_error_naming_it(settings, name, value, said):
    setattr(settings, name, value)
    (msg,) = _ours()
    assert msg.startswith(said)


def test_zero_where_it_means_at_once_or_none_passes(settings):
    settings.PORTAL_DELETE_GRACE_DAYS = 0  # deleted at once, after the final backup
    settings.PORTAL_REMINDER_DAYS = 0  # reminders off
    assert _ours() == []
