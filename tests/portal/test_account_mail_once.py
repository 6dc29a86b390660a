"""An account mail goes once per queued mail: a redelivered task whose key was recorded sends
nothing, a refused one is sent by the retry, and the record holds nothing of the mail."""

from datetime import timedelta

import pytest
from celery import signals
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from portal.models import AccountMailSent
from portal.tasks import send_account_mail
from tests.factories import UserFactory
from tests.smtp import FlakyBackend

pytestmark = pytest.mark.django_db


@pytest.fixture
def reset_task(client, eager_celery, django_capture_on_commit_callbacks):
    """The arguments of the task the password-reset page queued (its worker ran it)."""
    UserFactory(username="forgetful", email="forgetful@example.com")
    seen: list[tuple] = []

    def keep(sender=None, args=None, **_):
        if sender.name == send_account_mail.name:
            seen.append(tuple(args))

    signals.task_prerun.connect(keep, weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                reverse("account_reset_password"), {"email": "forgetful@example.com"}
            )
    finally:
        signals.task_prerun.disconnect(keep)
    assert response.status_code == 302
    (args,) = seen
    return args


def test_a_redelivered_account_mail_is_not_sent_again(reset_task):
    fields, key = reset_task
    assert [m.to for m in mail.outbox] == [["forgetful@example.com"]]
    assert AccountMailSent.objects.filter(key=key).exists()

    # The broker hands the same message over again (the worker died before acknowledging it).
    send_account_mail.apply((fields, key))
    send_account_mail.apply((fields, key))
    assert len(mail.outbox) == 1


def test_each_queued_mail_has_its_own_key(reset_task, client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("account_reset_password"), {"email": "forgetful@example.com"})
    assert len(mail.outbox) == 2  # asking again is a new mail, not a redelivery
    assert AccountMailSent.objects.count() == 2


def test_a_refused_account_mail_is_sent_by_the_retry_once(reset_task, settings, eager_celery):
    fields, _ = reset_task
    eager_celery.conf.task_eager_propagates = False  # as a worker: a refusal is retried
    settings.EMAIL_BACKEND = "tests.smtp.FlakyBackend"
    FlakyBackend.failures, FlakyBackend.tries = 2, 0
    mail.outbox.clear()
    key = "6f1c9b0e-0d5e-4b8e-9a53-2f0d7d1e8c11"

    send_account_mail.apply((fields, key), throw=False)  # refused twice, then taken
    assert FlakyBackend.tries == 3
    assert len(mail.outbox) == 1
    assert AccountMailSent.objects.filter(key=key).count() == 1
    send_account_mail.apply((fields, key))
    assert len(mail.outbox) == 1


def test_a_mail_the_server_never_took_leaves_no_key(reset_task, settings, eager_celery):
    fields, _ = reset_task
    eager_celery.conf.task_eager_propagates = False
    settings.EMAIL_BACKEND = "tests.smtp.FlakyBackend"
    FlakyBackend.failures, FlakyBackend.tries = 99, 0
    key = "0b7e3c52-7a0a-4f4e-8f59-6c2b6f0f3d21"
    send_account_mail.apply((fields, key), throw=False)
    assert not AccountMailSent.objects.filter(key=key).exists()


def test_a_message_queued_before_keys_is_still_sent(reset_task):
    fields, _ = reset_task
    send_account_mail.apply((fields,))
    assert len(mail.outbox) == 2


def test_the_record_holds_nothing_of_the_mail(reset_task):
    fields, key = reset_task
    token = fields["body"].rstrip().rsplit("/", 2)[-2]
    assert token and token in fields["body"]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {AccountMailSent._meta.db_table}")
        rows = cursor.fetchall()
    stored = repr(rows)
    assert key in stored
    for secret in (token, fields["subject"], "forgetful@example.com"):
        assert secret not in stored


def test_keys_are_kept_a_week(reset_task):
    fields, _ = reset_task
    old = AccountMailSent.objects.create(key="3d1f0a4e-5b6c-4d7e-8f90-a1b2c3d4e5f6")
    AccountMailSent.objects.filter(pk=old.pk).update(sent_at=timezone.now() - timedelta(days=8))
    send_account_mail.apply((fields, "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"))
    assert not AccountMailSent.objects.filter(pk=old.pk).exists()
    assert AccountMailSent.objects.count() == 2
