"""Eager tasks stop a deployment: they would run in the web request and log reset links."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError


def test_eager_tasks_stop_a_deployment(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    with pytest.raises(SystemCheckError, match="portal.E003.*password-reset links"):
        call_command("check", "--deploy")


def test_tasks_on_a_worker_pass(settings):
    from portal.celerychecks import tasks_not_eager

    settings.CELERY_TASK_ALWAYS_EAGER = False
    assert tasks_not_eager() == []
