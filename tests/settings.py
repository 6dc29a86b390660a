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
# Redis as in production; queues of this test session's own (the provisioning queue and the
# default one, where mails, backups and webhooks go), which worker processes the tests start
# inherit through the environment, so parallel sessions never share messages.
os.environ.setdefault("CELERY_BROKER_URL", "redis://127.0.0.1:6379/15")
_SESSION = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
os.environ.setdefault("PORTAL_PROVISIONING_QUEUE", f"provisioning-test-{_SESSION}")
os.environ.setdefault("PORTAL_TEST_DEFAULT_QUEUE", f"portal-test-{_SESSION}")

from portal.settings import *  # noqa: E402,F403

if os.environ.get("PORTAL_TEST_SMTP_URL"):
    # A worker a test started against its loopback SMTP server (tests/smtp.py), never the
    # developer's own DJANGO_EMAIL_URL.
    vars().update(env.email_url("PORTAL_TEST_SMTP_URL"))  # noqa: F405
else:
    EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
CELERY_TASK_ALWAYS_EAGER = False
# The live server's threads would otherwise keep connections open past the test database's drop.
# A bench worker keeps its connections across tasks as the portal does (PORTAL_TEST_CONN_MAX_AGE):
# they end with the worker, before the drop, and the bench reads their backends' CPU while alive.
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("PORTAL_TEST_CONN_MAX_AGE", "0"))  # noqa: F405
# Deletion at once, as most tests of a teardown expect; the grace period's tests set their own.
PORTAL_DELETE_GRACE_DAYS = 0
# Requests retried within a short budget and with short pauses, so outage tests take seconds
# (a drill's workers may shorten it further through their environment).
PORTAL_REQUEST_RETRY_BUDGET = float(os.environ.get("PORTAL_REQUEST_RETRY_BUDGET", "5"))
PORTAL_REQUEST_RETRY_BASE_DELAY = 0.05
PORTAL_REQUEST_RETRY_MAX_DELAY = 0.2
# Mails, backups, restores and webhooks to this session's own default queue, which the test
# workers consume beside the provisioning one: no other session's worker sees a message about a
# tenant it doesn't have, nor sends a mail of this run.
CELERY_TASK_DEFAULT_QUEUE = os.environ["PORTAL_TEST_DEFAULT_QUEUE"]
# Custom hosts' TXT checks never leave the machine: a test that checks one starts its own DNS
# server (the dns_server fixture); without it the check meets nobody on the discard port.
PORTAL_DNS_RESOLVERS = ["127.0.0.1:9"]
PORTAL_DNS_TIMEOUT = 0.5
# Webhook receivers' names are looked up in tests/fakes/resolver.py (the `resolver` fixture),
# never in real DNS; no network is allowed beyond the public internet, as by default (whatever
# the developer's environment says): a test with a loopback receiver allows loopback itself
# (the `loopback_receivers` fixture; a worker it starts, PORTAL_TEST_WEBHOOK_ALLOWED_NETWORKS).
PORTAL_WEBHOOK_RESOLVER = "tests.fakes.resolver.resolve"
PORTAL_WEBHOOK_ALLOWED_NETWORKS = env.list("PORTAL_TEST_WEBHOOK_ALLOWED_NETWORKS", default=[])  # noqa: F405
