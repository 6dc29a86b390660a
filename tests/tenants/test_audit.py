"""The audit trail: append-only in code, in the admin and in PostgreSQL; its chain verified."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.urls import reverse

from tenants.audit import audit_record, audit_verify
from tenants.models import AuditEvent
from tests.factories import TenantFactory, UserFactory


@pytest.fixture
def events(requester):
    tenant = TenantFactory(owner=requester, slug="audited")
    return [
        audit_record(action=AuditEvent.Action.TENANT_REQUESTED, actor=requester, obj=tenant),
        audit_record(action=AuditEvent.Action.TENANT_APPROVED, actor=requester, obj=tenant),
        audit_record(action=AuditEvent.Action.TENANT_READY, obj=tenant, message="done"),
    ]


def test_events_chain_onto_each_other(events):
    assert events[0].prev_hash == "0" * 64
    assert events[1].prev_hash == events[0].hash and events[2].prev_hash == events[1].hash
    assert audit_verify() == (3, None)


def test_changing_or_deleting_fails_in_code(events):
    event = AuditEvent.objects.get(pk=events[0].pk)
    event.message = "rewritten"
    with pytest.raises(PermissionError, match="append-only"):
        event.save()
    with pytest.raises(PermissionError, match="append-only"):
        event.delete()
    with pytest.raises(PermissionError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).update(message="rewritten")
    with pytest.raises(PermissionError, match="append-only"):
        AuditEvent.objects.all().delete()
    with pytest.raises(PermissionError, match="append-only"):
        AuditEvent._base_manager.filter(pk=event.pk).update(message="rewritten")
    assert AuditEvent.objects.get(pk=event.pk).message == ""


def test_changing_or_deleting_fails_in_postgresql(events):
    assert connection.vendor == "postgresql"
    for sql in (
        "UPDATE tenants_auditevent SET message = 'rewritten'",
        "DELETE FROM tenants_auditevent",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as cursor,
        ):
            cursor.execute(sql)
    assert AuditEvent.objects.count() == 3


def test_deleting_a_user_keeps_their_events_and_the_chain(events, requester):
    TenantFactory._meta.model.objects.filter(owner=requester).delete()
    requester.delete()
    assert AuditEvent.objects.filter(actor_name="alice").count() == 2
    assert audit_verify() == (3, None)


def test_audit_verify_names_an_edited_row(events):
    call_command("audit_verify")  # intact: no error
    with connection.cursor() as cursor:
        # The guard trigger must step aside for the test to play the intruder.
        cursor.execute("ALTER TABLE tenants_auditevent DISABLE TRIGGER USER")
        cursor.execute(
            "UPDATE tenants_auditevent SET message = 'nothing happened' WHERE id = %s",
            [events[1].pk],
        )
        cursor.execute("ALTER TABLE tenants_auditevent ENABLE TRIGGER USER")
    assert audit_verify()[1].event_id == events[1].pk
    with pytest.raises(CommandError) as excinfo:
        call_command("audit_verify")
    assert str(excinfo.value) == (
        f"The audit chain is broken at event {events[1].pk}: its content does not match its hash."
    )


def test_audit_verify_finds_a_removed_row(events, capsys):
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE tenants_auditevent DISABLE TRIGGER USER")
        cursor.execute("DELETE FROM tenants_auditevent WHERE id = %s", [events[1].pk])
        cursor.execute("ALTER TABLE tenants_auditevent ENABLE TRIGGER USER")
    with pytest.raises(CommandError, match=f"event {events[2].pk}: it does not follow"):
        call_command("audit_verify")
    assert "Checked 1 audit events before the break." in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_audit_verify_command_exits_non_zero():
    import os
    import subprocess
    import sys

    from django.conf import settings

    first = audit_record(action=AuditEvent.Action.USER_LOGIN, actor_name="alice")
    audit_record(action=AuditEvent.Action.USER_LOGOUT, actor_name="alice")
    db = settings.DATABASES["default"]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/"
        f"{db['NAME']}",
    }

    def run():
        return subprocess.run(
            [sys.executable, "manage.py", "audit_verify"],
            env=env,
            capture_output=True,
            text=True,
            cwd=settings.BASE_DIR,
        )

    done = run()
    assert done.returncode == 0, done.stderr
    assert "Checked 2 audit events: the chain is intact." in done.stdout
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE tenants_auditevent DISABLE TRIGGER USER")
        cursor.execute(
            "UPDATE tenants_auditevent SET actor_name = 'mallory' WHERE id = %s", [first.pk]
        )
        cursor.execute("ALTER TABLE tenants_auditevent ENABLE TRIGGER USER")
    done = run()
    assert done.returncode == 1
    assert f"broken at event {first.pk}: its content does not match its hash" in done.stderr
    assert "Checked 0 audit events before the break." in done.stdout


def test_sign_ins_are_audited(client, requester):
    client.post(reverse("account_login"), {"login": "alice", "password": "wrong"})
    client.post(reverse("account_login"), {"login": "alice", "password": "pw-for-tests-only"})
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "actor_name"))
    assert actions == [("user.login_failed", "alice"), ("user.login", "alice")]
    assert "pw-for-tests-only" not in str(list(AuditEvent.objects.values()))


def test_admin_refuses_changes_even_to_superusers(client, events):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(root)
    event = events[0]
    base = "admin:tenants_auditevent"
    assert client.get(reverse(f"{base}_add")).status_code == 403
    change = reverse(f"{base}_change", args=[event.pk])
    page = client.get(change)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.post(change, {"message": "rewritten"}).status_code == 403
    assert client.get(reverse(f"{base}_delete", args=[event.pk])).status_code == 403
    delete = reverse(f"{base}_delete", args=[event.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    count = AuditEvent.objects.count()
    changelist = client.get(reverse(f"{base}_changelist")).content.decode()
    assert "delete_selected" not in changelist and "export_csv" in changelist
    response = client.post(
        reverse(f"{base}_changelist"),
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302)
    assert AuditEvent.objects.count() == count and audit_verify() == (count, None)


@pytest.mark.django_db(transaction=True)
def test_writers_at_once_still_make_one_chain():
    """Each insert reads the last hash itself, after the chain's lock: four writers at once,
    each in its own transaction, still chain every event onto the one before it."""
    import threading

    from django.db import connections

    tenant = TenantFactory(slug="contended")
    start = threading.Barrier(4)
    failures = []

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(10):
                with transaction.atomic():
                    audit_record(
                        action=AuditEvent.Action.TENANT_READY, obj=tenant, message=f"{n}.{i}"
                    )
        except Exception as exc:  # noqa: BLE001  (reported by the test below)
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert audit_verify() == (40, None)
