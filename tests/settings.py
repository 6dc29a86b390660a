"""Test settings: the portal's own, pointed at the test services on loopback."""

import os
import uuid
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
# PostgreSQL as in production; the password is ignored under trust auth and used where the
# test script had to set one up.
os.environ.setdefault("DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/portal")
os.environ.setdefault("PORTAL_VAR_DIR", str(_ROOT / "var" / "test"))
os.environ.setdefault("DJANGO_EMAIL_URL", "consolemail://")
# Redis as in production; a queue of this test session's own, which worker processes the
# tests start inherit through the environment, so parallel sessions never share messages.
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
os.environ.setdefault("PORTAL_PROVISIONING_QUEUE", f"provisioning-test-{uuid.uuid4().hex[:12]}")

from portal.settings import *  # noqa: E402,F403

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
CELERY_TASK_ALWAYS_EAGER = False
# The live server's threads would otherwise keep connections open past the test database's drop.
DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
# Deletion at once, as most tests of a teardown expect; the grace period's tests set their own.
PORTAL_DELETE_GRACE_DAYS = 0
# Requests retried within a short budget and with short pauses, so outage tests take seconds.
PORTAL_REQUEST_RETRY_BUDGET = 5.0
PORTAL_REQUEST_RETRY_BASE_DELAY = 0.05
PORTAL_REQUEST_RETRY_MAX_DELAY = 0.2
# The engine's mails and the restores to this session's own queue too, so the test workers do
# them and no other session's worker sees a message about a tenant it doesn't have.
CELERY_TASK_ROUTES = {  # noqa: F405
    **CELERY_TASK_ROUTES,  # noqa: F405
    "tenants.tasks.send_notice": {"queue": PORTAL_PROVISIONING_QUEUE},  # noqa: F405
    "tenants.tasks.restore_tenant": {"queue": PORTAL_PROVISIONING_QUEUE},  # noqa: F405
}
