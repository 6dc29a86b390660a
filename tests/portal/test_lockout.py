"""Sign-in lock-out: per user name and per IP, doubling back-off, a bounded audit trail, and
counts that hold across processes (the shared cache)."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse

from portal.auth import lockout
from tenants.models import AuditEvent
from tests.factories import UserFactory

ROOT = Path(__file__).resolve().parent.parent.parent
PASSWORD = "pw-for-tests-only"
ADMIN_LOGIN = reverse("admin:login")
LOGIN = reverse("account_login")
LOCKED = "Too many failed sign-ins; try again in 1 minute."


@pytest.fixture
def limits(settings):
    settings.PORTAL_LOGIN_FAILURES_PER_USER = 5
    settings.PORTAL_LOGIN_FAILURES_PER_IP = 20
    settings.PORTAL_LOGIN_FAILURE_WINDOW = 86400
    settings.PORTAL_LOGIN_LOCKOUT_SECONDS = 60
    return settings


@pytest.fixture
def staff(db):
    return UserFactory(username="root-admin", is_staff=True, is_superuser=True)


def admin_login(client, password, username="root-admin", **extra):
    return client.post(ADMIN_LOGIN, {"username": username, "password": password}, **extra)


def failures_audited():
    return list(
        AuditEvent.objects.filter(action=AuditEvent.Action.USER_LOGIN_FAILED)
        .order_by("id")
        .values_list("actor_name", "message")
    )


def test_the_admin_login_locks_a_name_out_after_five_failures(client, staff, limits):
    for _ in range(5):
        assert "correct username and password" in admin_login(client, "wrong").content.decode()

    page = admin_login(client, PASSWORD).content.decode()

    assert LOCKED in page
    assert "_auth_user_id" not in client.session
    # Two rows for six attempts: the first failure and the lock-out, not one per guess.
    assert failures_audited() == [
        ("root-admin", "Wrong user name or password. Further failures count towards a lock-out."),
        (
            "root-admin",
            "Locked out: too many failed sign-ins for this user name; "
            "sign-in refused for 1 minute.",
        ),
    ]


def test_forty_guesses_leave_a_handful_of_audit_rows(client, staff, limits):
    for _ in range(40):
        admin_login(client, "wrong")

    # The lock holds from the fifth guess on: guesses while locked are not even checked.
    assert len(failures_audited()) == 2


def test_the_lock_ends_and_the_right_password_then_works(client, staff, limits):
    limits.PORTAL_LOGIN_LOCKOUT_SECONDS = 1
    for _ in range(5):
        admin_login(client, "wrong")
    assert "Too many failed sign-ins" in admin_login(client, PASSWORD).content.decode()

    time.sleep(1.2)
    response = admin_login(client, PASSWORD)

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(staff.pk)


def test_each_further_lock_out_lasts_twice_as_long(rf, db, limits):
    request = rf.post("/", REMOTE_ADDR="192.0.2.7")
    locks = []
    for _ in range(3):
        for _ in range(5):
            failure = lockout.failed(request, "victim")
        locks += failure.locked

    assert locks == [("user name", 60), ("user name", 120), ("user name", 240)]


def test_the_right_password_resets_the_names_back_off(rf, db, limits):
    request = rf.post("/", REMOTE_ADDR="192.0.2.7")
    for _ in range(5):
        lockout.failed(request, "victim")
    lockout.succeeded("victim")
    for _ in range(5):
        failure = lockout.failed(request, "victim")

    assert failure.locked == [("user name", 60)]


def test_one_address_guessing_many_names_is_locked_out(client, staff, limits):
    limits.PORTAL_LOGIN_FAILURES_PER_IP = 3
    for name in ("a", "b", "c"):
        admin_login(client, "wrong", username=name)

    assert LOCKED in admin_login(client, PASSWORD).content.decode()
    # Another address is not locked out.
    response = admin_login(client, PASSWORD, REMOTE_ADDR="192.0.2.99")
    assert response.status_code == 302


def test_the_portals_password_sign_in_locks_out_too(client, staff, limits):
    for _ in range(5):
        client.post(LOGIN, {"login": "root-admin", "password": "wrong"})

    response = client.post(LOGIN, {"login": "Root-Admin ", "password": PASSWORD})

    assert LOCKED in response.content.decode()
    assert client.get("/tenants/").status_code == 302
    assert len(failures_audited()) == 2


def _fail_in_another_process(username: str, ip: str, times: int, extra_env: dict) -> None:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/"
        f"{db['NAME']}",
        "PORTAL_LOGIN_FAILURE_WINDOW": "86400",
        **extra_env,
    }
    script = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "from django.test.utils import setup_test_environment; setup_test_environment()\n"
        f"for _ in range({times}):\n"
        f"    Client().post('{ADMIN_LOGIN}', {{'username': {username!r}, 'password': 'x'}},"
        f" REMOTE_ADDR={ip!r})\n"
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, check=True, timeout=120)


@pytest.mark.integration
@pytest.mark.parametrize("cache", ["database", "redis"])
def test_the_count_holds_across_processes(client, transactional_db, limits, cache):
    extra_env = {}
    if cache == "redis":
        # A Redis database of these tests' own.
        extra_env["PORTAL_CACHE_URL"] = url = "redis://127.0.0.1:6379/11"
        limits.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
        }
    run = uuid.uuid4()
    name = f"admin-{run.hex[:8]}"  # a name no earlier run has counted
    # And an address of its own: the cache outlives a run, and 127.0.0.1's failures from
    # earlier runs and tests would lock the address out for longer than the name.
    ip = f"10.{run.bytes[0]}.{run.bytes[1]}.{run.bytes[2]}"
    user = UserFactory(username=name, is_staff=True, is_superuser=True)
    for _ in range(3):
        admin_login(client, "wrong", username=name, REMOTE_ADDR=ip)

    _fail_in_another_process(name, ip, 2, extra_env)

    page = admin_login(client, PASSWORD, username=name, REMOTE_ADDR=ip).content.decode()
    assert LOCKED in page
    assert "_auth_user_id" not in client.session
    assert AuditEvent.objects.filter(actor_name=user.username).count() == 2
