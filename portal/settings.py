"""Portal settings, read from environment variables (DJANGO_* for Django, PORTAL_* for ours)."""

import ipaddress
from pathlib import Path
from urllib.parse import urlsplit

import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from portal.auth.config import oidc_providers, url_origin
from portal.wordpress_versions import OFFERED as OFFERED_WORDPRESS

BASE_DIR = Path(__file__).resolve().parent.parent


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


env = environ.Env()
# A local .env is a convenience for developers; real deployments set the environment.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Where the embedded default keeps its SQLite database, broker folders and plans; default var/.
VAR_DIR = Path(env.str("PORTAL_VAR_DIR", default=str(BASE_DIR / "var")))
try:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
except OSError as exc:
    raise ImproperlyConfigured(
        f"PORTAL_VAR_DIR {str(VAR_DIR)!r} cannot be created ({exc.strerror}): "
        "point it at a writable folder."
    ) from None

# --- Django core -------------------------------------------------------------------------------

# Signing key; default: a key generated once and kept in var/secret_key (never for production).
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="")
if not SECRET_KEY:
    _key_file = VAR_DIR / "secret_key"
    if not _key_file.exists():
        from django.core.management.utils import get_random_secret_key

        _key_file.write_text(get_random_secret_key())
        _key_file.chmod(0o600)
    SECRET_KEY = _key_file.read_text().strip()

# Debug pages; default off.
DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Host names the portal answers to; default loopback only.
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
_LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1", "testserver"}
if DEBUG and set(ALLOWED_HOSTS) - _LOOPBACK:
    # Debug pages show settings and source to whoever reaches them: loopback only.
    raise ImproperlyConfigured(
        "DJANGO_DEBUG is on while DJANGO_ALLOWED_HOSTS names hosts beyond loopback "
        f"({', '.join(sorted(set(ALLOWED_HOSTS) - _LOOPBACK))}): debug pages would be public. "
        "Turn DJANGO_DEBUG off, or allow only 127.0.0.1, localhost and [::1]."
    )
# Origins trusted for CSRF behind a TLS proxy, e.g. https://portal.example.com; default none.
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
# Serve cookies only over HTTPS; default off (on in production behind TLS).
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=False)
# Redirect plain HTTP to HTTPS (the health probes excepted); default off (on in production).
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
# The kubelet probes the pod over plain HTTP: /healthz and /readyz answer it directly.
# Probes and Prometheus's scrape come over plain HTTP from inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
# Seconds browsers keep to HTTPS (Strict-Transport-Security); default 0, off (production: a year).
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
# HSTS for every subdomain too, and asking to be preloaded into browsers; default off both.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
# Trust X-Forwarded-Proto from the ingress; default off.
if env.bool("DJANGO_BEHIND_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many proxies sit in front of the portal, for the client IP in the audit; default 0.
PORTAL_TRUSTED_PROXY_COUNT = env.int("PORTAL_TRUSTED_PROXY_COUNT", default=0)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "csp",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.socialaccount",
    # allauth's openid_connect provider plus a checked nonce (same provider id and URLs).
    "portal.auth.oidc",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "portal",
    "tenants",
    "provisioning",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.middleware.RequestContextMiddleware",
    "portal.metrics.MetricsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.middleware.PrivatePagesMiddleware",
    "portal.errorpages.ErrorPageMiddleware",
]
# An expired CSRF token shows the portal's page, which offers to send the form again.
CSRF_FAILURE_VIEW = "portal.errorpages.csrf_failure"

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"
ASGI_APPLICATION = "portal.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.portal",
            ],
        },
    },
]

# The portal database; default SQLite under var/ (production: postgres://...).
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'portal.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DJANGO_CONN_MAX_AGE", default=60))
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Worker and web server share the file: wait for a lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "tenants:list"
LOGOUT_REDIRECT_URL = "account_login"

LANGUAGE_CODE = "en-us"
# Time zone pages show times in; default UTC.
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
# Where collectstatic puts files for production; default staticfiles/.
STATIC_ROOT = Path(env.str("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "portal" / "static"]
# Without collectstatic (the embedded default) WhiteNoise serves from the finders.
WHITENOISE_USE_FINDERS = True

# --- Shared cache, rate limits and sign-in lock-out -----------------------------------------------

# Cache every process shares (rate limits, lock-outs, allauth's limits), e.g. redis://redis:6379/1;
# default a table in the portal database, so limits hold across workers without a server.
PORTAL_CACHE_URL = env.str("PORTAL_CACHE_URL", default="")
if PORTAL_CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": PORTAL_CACHE_URL,
        }
    }
else:
    # Its table is made by portal's migration 0001 (createcachetable).
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "portal_cache",
        }
    }
# Tenant requests one user may file, as count/seconds; default 10/3600 (ten an hour).
PORTAL_RATE_LIMIT_REQUESTS = env.str("PORTAL_RATE_LIMIT_REQUESTS", default="10/3600")
# Changes one user may make (retry, reconcile, delete, decide, file), count/seconds; 60/600.
PORTAL_RATE_LIMIT_ACTIONS = env.str("PORTAL_RATE_LIMIT_ACTIONS", default="60/600")
# Failed sign-ins for one user name, and from one IP, before a lock-out; default 5 and 20.
PORTAL_LOGIN_FAILURES_PER_USER = env.int("PORTAL_LOGIN_FAILURES_PER_USER", default=5)
PORTAL_LOGIN_FAILURES_PER_IP = env.int("PORTAL_LOGIN_FAILURES_PER_IP", default=20)
# Seconds in which those failures count (fixed windows); default 900.
PORTAL_LOGIN_FAILURE_WINDOW = env.int("PORTAL_LOGIN_FAILURE_WINDOW", default=900)
# Seconds of the first lock-out, doubled with each further one in a day; default 60.
PORTAL_LOGIN_LOCKOUT_SECONDS = env.int("PORTAL_LOGIN_LOCKOUT_SECONDS", default=60)
# Longest lock-out in seconds; default 86400 (a day).
PORTAL_LOGIN_LOCKOUT_MAX_SECONDS = env.int("PORTAL_LOGIN_LOCKOUT_MAX_SECONDS", default=86400)

# --- E-mail ------------------------------------------------------------------------------------

# Mail transport, e.g. smtp://user:pass@mail:587 (smtp+tls://...); default prints to the console.
EMAIL_CONFIG = env.email_url("DJANGO_EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# Seconds an SMTP connection may take before a send gives up (the task tries again); default 10.
EMAIL_TIMEOUT = env.int("PORTAL_EMAIL_TIMEOUT", default=10)
# Seconds before a mail the server didn't take is tried again, doubled each time up to 30
# minutes (eight tries, tenants.tasks.send_notice); default 30.
PORTAL_EMAIL_RETRY_DELAY = env.int("PORTAL_EMAIL_RETRY_DELAY", default=30)
# Sender of the portal's notifications; default portal@localhost.
DEFAULT_FROM_EMAIL = env.str("DJANGO_DEFAULT_FROM_EMAIL", default="portal@localhost")
# The portal's own address as people reach it, for the links in its mails (a mail has no request
# to take the host from); default the first CSRF trusted origin (production sets it to the
# portal's https address), else http://localhost:8000, what scripts/run.sh serves.
PORTAL_URL = env.str(
    "PORTAL_URL", default=(CSRF_TRUSTED_ORIGINS or ["http://localhost:8000"])[0]
).rstrip("/")
# Addresses that get what platform admins get (new requests, reminders, failures, comments)
# besides the approvers' own accounts, e.g. a team list; comma-separated, default none.
PORTAL_ADMIN_EMAILS = env.list("PORTAL_ADMIN_EMAILS", default=[])
# Where requesters ask for help when something fails; default: the admin who approved it.
PORTAL_SUPPORT_EMAIL = env.str("PORTAL_SUPPORT_EMAIL", default="")

# --- Logging -----------------------------------------------------------------------------------

# Log level of the portal's own loggers; default INFO.
PORTAL_LOG_LEVEL = env.str("PORTAL_LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # One JSON object per line (portal.logs): time, level, logger, message, request_id, user,
    # tenant, run_id; credentials masked.
    "filters": {"context": {"()": "portal.logs.ContextFilter"}},
    "formatters": {"json": {"()": "portal.logs.JsonLines"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["context"]}
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        **{
            name: {"level": PORTAL_LOG_LEVEL, "handlers": ["console"], "propagate": False}
            for name in ("portal", "tenants", "provisioning", "api")
        },
        # The worker's own lines (task received, succeeded, failed) through the same handler:
        # Celery is told not to install its plain-text one (CELERY_WORKER_HIJACK_ROOT_LOGGER).
        "celery": {"level": "INFO"},
        # At DEBUG these log whole API responses, and some hold a tenant's new credentials
        # (an S3 secret key): never below INFO, whatever the root level.
        **{name: {"level": "INFO"} for name in ("botocore", "boto3", "ionoscloud")},
    },
}

# --- Celery ------------------------------------------------------------------------------------

# Broker URL, e.g. redis://redis:6379/0; default a folder broker under var/ that needs no server.
# The folder broker's URL names a host (one it never uses) so kombu warns of none at each start.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://localhost//")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_queue_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir / "queue"),
        "data_folder_out": str(_queue_dir / "queue"),
        "processed_folder": str(_queue_dir / "processed"),
        "store_processed": False,
        # Its exchange tables (broadcasts, the pidbox); kombu's default is ./control, which left
        # them in whatever folder the worker started from.
        "control_folder": str(_queue_dir / "control"),
    }
else:
    # A message not acknowledged within this many seconds is handed to another worker; this is
    # what brings back the work of a killed worker (acks_late). Default 600.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("PORTAL_BROKER_VISIBILITY_TIMEOUT", default=600),
        # Seconds between the worker's sweeps for such messages; default 10.
        "unacked_restore_interval": env.int("PORTAL_BROKER_RESTORE_INTERVAL", default=10),
        "unacked_restore_throttle": 1,
    }
CELERY_TASK_IGNORE_RESULT = True
# The worker logs through LOGGING above (JSON lines), not through a handler of Celery's own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "portal"
# Queue the provisioning tasks go to; default provisioning.
PORTAL_PROVISIONING_QUEUE = env.str("PORTAL_PROVISIONING_QUEUE", default="provisioning")
# The heartbeat goes where the runs go: it proves a worker serves that queue.
CELERY_TASK_ROUTES = {
    "provisioning.tasks.*": {"queue": PORTAL_PROVISIONING_QUEUE},
    "portal.tasks.heartbeat": {"queue": PORTAL_PROVISIONING_QUEUE},
}
# Hard and soft time limits of one provisioning task, in seconds; default 300 and 240.
CELERY_TASK_TIME_LIMIT = env.int("PORTAL_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("PORTAL_TASK_SOFT_TIME_LIMIT", default=240)
# Worker processes per worker; default 2.
CELERY_WORKER_CONCURRENCY = env.int("PORTAL_WORKER_CONCURRENCY", default=2)
# Run tasks in-process (unit tests only: `check --deploy` refuses it); default off.
CELERY_TASK_ALWAYS_EAGER = env.bool("PORTAL_CELERY_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Seconds between drift checks of every ready tenant; default 900.
PORTAL_DRIFT_INTERVAL = env.int("PORTAL_DRIFT_INTERVAL", default=900)
# What a drift check does with a difference: "repair" it or only "report" it; default repair.
PORTAL_DRIFT_MODE = env.str("PORTAL_DRIFT_MODE", default="repair")
# Seconds a drift scan keeps its cluster-wide list of a kind for the tenants checked after the
# first (a difference is read again before it counts); default 60.
PORTAL_DRIFT_LIST_SECONDS = env.float("PORTAL_DRIFT_LIST_SECONDS", default=60)
# Days a drift check that found nothing is kept (each tenant's latest, those that found drift
# or failed, and the audit trail are kept for good); default 30.
PORTAL_DRIFT_RETENTION_DAYS = env.int("PORTAL_DRIFT_RETENTION_DAYS", default=30)
# Seconds after a run an outage ended (the retry budget spent) before the sweep starts the
# tenant's next try, doubled for each such run in a row, at most six hours; default 600.
PORTAL_OUTAGE_RETRY_DELAY = env.int("PORTAL_OUTAGE_RETRY_DELAY", default=600)
# Seconds between the beat's sweeps (stalled runs, lost messages, due drift checks); default 60.
PORTAL_SWEEP_INTERVAL = env.int("PORTAL_SWEEP_INTERVAL", default=60)
# Seconds past its due time before a run's queue message counts as lost and is sent again (a
# late copy then does nothing); keep it above a busy queue's usual wait. Default 300.
PORTAL_MESSAGE_GRACE = env.int("PORTAL_MESSAGE_GRACE", default=300)
# Seconds a started run may go without any worker working on it (its heartbeat) before the sweep
# ends it as stalled, failing its tenant with that reason; default 3600.
PORTAL_RUN_STALL_TIMEOUT = env.int("PORTAL_RUN_STALL_TIMEOUT", default=3600)
# Days a request may wait for a decision before the approvers are reminded (again every as many
# days); 0 turns reminders off; default 2.
PORTAL_REMINDER_DAYS = env.int("PORTAL_REMINDER_DAYS", default=2)
# Seconds between the workers' heartbeats (a beat task on the provisioning queue); default 30.
PORTAL_HEARTBEAT_INTERVAL = env.int("PORTAL_HEARTBEAT_INTERVAL", default=30)
# Seconds without a heartbeat before /readyz and the pages warn that no worker runs; default 180.
PORTAL_WORKER_STALE_AFTER = env.int("PORTAL_WORKER_STALE_AFTER", default=180)
# Days a built tenant stays suspended after its deletion was asked for, during which the
# deletion can be cancelled; 0 deletes it at once (after its final backup all the same). 14.
PORTAL_DELETE_GRACE_DAYS = env.int("PORTAL_DELETE_GRACE_DAYS", default=14)
# Hours between the scheduled backups of a tenant whose owner kept the default schedule (each
# may choose its own; the tenant page warns by its plan's RPO, backup_max_age_hours); 24.
PORTAL_BACKUP_INTERVAL_HOURS = env.int("PORTAL_BACKUP_INTERVAL_HOURS", default=24)
# Seconds between the beat's looks for tenants whose scheduled backup is due (and for backups
# past retention): a backup comes at most this late; default 300.
PORTAL_BACKUP_SCHEDULE_SECONDS = env.int("PORTAL_BACKUP_SCHEDULE_SECONDS", default=300)
# Days between test restores of a tenant's newest good backup into a scratch database; 7.
PORTAL_BACKUP_VERIFY_DAYS = env.int("PORTAL_BACKUP_VERIFY_DAYS", default=7)
# Seconds the Job that archives or puts back a tenant's wp-content may run; default 1200.
PORTAL_FILES_JOB_DEADLINE = env.int("PORTAL_FILES_JOB_DEADLINE", default=1200)
# Seconds a backup or a restore task may take (a dump, the files Job, a load), past which it
# stops (SoftTimeLimitExceeded, a minute later killed); default 3600.
PORTAL_BACKUP_TIME_LIMIT = env.int("PORTAL_BACKUP_TIME_LIMIT", default=3600)
# Seconds between looks for tenants whose grace period is over; default 3600.
PORTAL_PURGE_INTERVAL = env.int("PORTAL_PURGE_INTERVAL", default=3600)
# Seconds between the beat's looks for the TXT proofs of custom hosts still waiting (each
# host looked at once per interval), for PORTAL_HOST_RECHECK_DAYS after it was added; 900, 7.
PORTAL_HOST_RECHECK_INTERVAL = env.int("PORTAL_HOST_RECHECK_INTERVAL", default=900)
PORTAL_HOST_RECHECK_DAYS = env.int("PORTAL_HOST_RECHECK_DAYS", default=7)
# Seconds between samples of every ready tenant's use against its quota (one cluster-wide list
# of the quotas, one query of the database sizes), the usage rule's evidence; default 3600.
PORTAL_USAGE_SAMPLE_INTERVAL = env.int("PORTAL_USAGE_SAMPLE_INTERVAL", default=3600)
# The usage rule: an owner's request for the next larger plan is approved at once when one
# resource averaged at least THRESHOLD % of its quota over the last WINDOW_DAYS days on the
# current plan, with samples in at least COVERAGE % of that window; default 85, 14, 90.
PORTAL_UPSIZE_RULE_THRESHOLD = env.int("PORTAL_UPSIZE_RULE_THRESHOLD", default=85)
PORTAL_UPSIZE_RULE_WINDOW_DAYS = env.int("PORTAL_UPSIZE_RULE_WINDOW_DAYS", default=14)
PORTAL_UPSIZE_RULE_COVERAGE = env.int("PORTAL_UPSIZE_RULE_COVERAGE", default=90)
CELERY_BEAT_SCHEDULE = {
    "reconcile-all": {
        "task": "provisioning.tasks.reconcile_all",
        "schedule": float(PORTAL_SWEEP_INTERVAL),
    },
    "remind-approvers": {
        "task": "tenants.tasks.remind_approvers",
        "schedule": 3600.0,
    },
    "worker-heartbeat": {
        "task": "portal.tasks.heartbeat",
        "schedule": float(PORTAL_HEARTBEAT_INTERVAL),
        # Stale at once: a backlog of old heartbeats must not make a stuck queue look alive.
        "options": {"expires": float(PORTAL_HEARTBEAT_INTERVAL)},
    },
    "purge-deletions": {
        "task": "tenants.tasks.purge_due_deletions",
        "schedule": float(PORTAL_PURGE_INTERVAL),
    },
    "resume-restores": {
        "task": "tenants.tasks.resume_restores",
        "schedule": float(PORTAL_SWEEP_INTERVAL),
    },
    "scheduled-backups": {
        "task": "tenants.tasks.scheduled_backups",
        "schedule": float(PORTAL_BACKUP_SCHEDULE_SECONDS),
        # A look that waited past the next one is no use: the next one does the same.
        "options": {"expires": float(PORTAL_BACKUP_SCHEDULE_SECONDS)},
    },
    # Beat's init container does it once per rollout; this catches a tenant whose reconcile an
    # old worker took during that rollout (and so built it from the old image again).
    "reconcile-outdated": {
        "task": "provisioning.tasks.reconcile_outdated",
        "schedule": 3600.0,
    },
    "sample-usage": {
        "task": "tenants.tasks.sample_usage",
        "schedule": float(PORTAL_USAGE_SAMPLE_INTERVAL),
        # A late sample is worth nothing: the next one comes.
        "options": {"expires": float(PORTAL_USAGE_SAMPLE_INTERVAL)},
    },
    "recheck-custom-hosts": {
        "task": "tenants.tasks.recheck_custom_hosts",
        "schedule": float(PORTAL_HOST_RECHECK_INTERVAL),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Provisioning engine -----------------------------------------------------------------------

# Seconds a step keeps retrying passing errors (network, 5xx, 429, an outage) from the first
# one before its run fails; the backoff grows to PORTAL_RETRY_MAX_DELAY meanwhile. Default 1800.
PORTAL_STEP_RETRY_BUDGET = env.int("PORTAL_STEP_RETRY_BUDGET", default=1800)
# Times a step may be cut off (its worker killed, the hard time limit) before the run fails; 8.
PORTAL_STEP_MAX_RETRIES = env.int("PORTAL_STEP_MAX_RETRIES", default=8)
# First retry delay in seconds, doubled each attempt, with jitter; default 2.
PORTAL_RETRY_BASE_DELAY = env.float("PORTAL_RETRY_BASE_DELAY", default=2.0)
# Longest retry delay in seconds (keep it below PORTAL_BROKER_VISIBILITY_TIMEOUT: Redis hands a
# task held longer than that to another worker); default 300.
PORTAL_RETRY_MAX_DELAY = env.float("PORTAL_RETRY_MAX_DELAY", default=300.0)
# Seconds one outside request (Kubernetes, Authentik, IONOS) is retried through a passing outage
# before its step is left to the engine's own retry; keep it well under PORTAL_TASK_SOFT_TIME_LIMIT
# (system check). Retry-After is honoured. Default 60.
PORTAL_REQUEST_RETRY_BUDGET = env.float("PORTAL_REQUEST_RETRY_BUDGET", default=60.0)
# First and longest pause between those tries in seconds, doubled each try, with jitter; 0.5, 15.
PORTAL_REQUEST_RETRY_BASE_DELAY = env.float("PORTAL_REQUEST_RETRY_BASE_DELAY", default=0.5)
PORTAL_REQUEST_RETRY_MAX_DELAY = env.float("PORTAL_REQUEST_RETRY_MAX_DELAY", default=15.0)
# Seconds a tenant's lease lasts unless its holder renews it (a heartbeat does, while a step
# runs); must be longer than PORTAL_TASK_TIME_LIMIT (system check). Default 360.
PORTAL_TENANT_LOCK_TTL = env.int("PORTAL_TENANT_LOCK_TTL", default=360)
# Seconds before the first look at something settling outside (a rollout, a deletion), and the
# longest pause between looks (each waits half as long as the wait so far); default 1 and 10.
PORTAL_WAIT_FIRST = env.float("PORTAL_WAIT_FIRST", default=1.0)
PORTAL_WAIT_INTERVAL = env.int("PORTAL_WAIT_INTERVAL", default=10)
# Seconds a step may keep waiting (a rollout, a namespace deletion) before it fails; default 900.
PORTAL_WAIT_TIMEOUT = env.int("PORTAL_WAIT_TIMEOUT", default=900)
# The provisioning steps in order (dotted paths); default the platform's six. The network
# policies come right after the namespace: nothing runs in it unisolated, and a later step's
# failure never keeps a reconcile from putting back a deleted policy.
PORTAL_STEPS = env.list(
    "PORTAL_STEPS",
    default=[
        "provisioning.steps.namespace.NamespaceStep",
        "provisioning.steps.network.NetworkStep",
        "provisioning.steps.database.DatabaseStep",
        "provisioning.steps.sso.SsoStep",
        "provisioning.steps.storage.StorageStep",
        # Before WordPress: the install Job reads the pipeline client it creates.
        "provisioning.steps.pipeline.PipelineStep",
        # With a DNS zone configured (below), the host's record before the ingress, so it
        # resolves when cert-manager asks for the certificate.
        *(
            ["provisioning.steps.dns.DnsStep"]
            if env.str("PORTAL_IONOS_DNS_ZONE_ID", default="")
            else []
        ),
        "provisioning.steps.wordpress.WordPressStep",
    ],
)
# Where plan mode writes what it would apply; default var/plan.
PORTAL_PLAN_DIR = Path(env.str("PORTAL_PLAN_DIR", default=str(VAR_DIR / "plan")))

# --- Tenants -----------------------------------------------------------------------------------

# Host of a tenant's site; {slug} is replaced; default the platform's wordpress-{slug}.local.
PORTAL_TENANT_HOST_PATTERN = env.str("PORTAL_TENANT_HOST_PATTERN", default="wordpress-{slug}.local")
# TLS for tenant sites ends before the ingress (a load balancer) and the ingress controller
# honours its X-Forwarded-Proto (ingress-nginx use-forwarded-headers): their URLs are https even
# without PORTAL_CERT_ISSUER; default off.
PORTAL_TENANT_TLS_UPSTREAM = env.bool("PORTAL_TENANT_TLS_UPSTREAM", default=False)
# Scheme of tenant sites' URLs, for older configurations only: it follows from PORTAL_CERT_ISSUER
# and PORTAL_TENANT_TLS_UPSTREAM, and the portal refuses to start if this disagrees; default unset.
PORTAL_TENANT_URL_SCHEME = env.str("PORTAL_TENANT_URL_SCHEME", default="")
# Namespace of a tenant; default wp-{slug}.
PORTAL_NAMESPACE_PATTERN = env.str("PORTAL_NAMESPACE_PATTERN", default="wp-{slug}")
# WordPress versions a requester may choose, newest first; default 6.8, 6.7, 6.6.
# (portal/wordpress_versions.py: CI builds a tenant image for each of these, and only these).
PORTAL_WORDPRESS_VERSIONS = env.list("PORTAL_WORDPRESS_VERSIONS", default=list(OFFERED_WORDPRESS))
# Open requests and live tenants one requester may have at once; default 5.
PORTAL_MAX_TENANTS_PER_USER = env.int("PORTAL_MAX_TENANTS_PER_USER", default=5)
# Custom host names a tenant may have besides its own, each served once proven by DNS TXT.
PORTAL_MAX_CUSTOM_HOSTS = env.int("PORTAL_MAX_CUSTOM_HOSTS", default=5)
# The DNS servers that check a custom host's TXT proof, as ip or ip:port, comma-separated;
# default empty: the machine's own (/etc/resolv.conf). Seconds one check may take; default 5.
PORTAL_DNS_RESOLVERS = env.list("PORTAL_DNS_RESOLVERS", default=[])
PORTAL_DNS_TIMEOUT = env.float("PORTAL_DNS_TIMEOUT", default=5.0)
# The label before the host where its TXT proof lives: _wp-portal.blog.example.com.
PORTAL_HOST_PROOF_LABEL = env.str("PORTAL_HOST_PROOF_LABEL", default="_wp-portal")
# Slugs nobody may take (besides kube-*); default a list of system and platform names.
PORTAL_RESERVED_SLUGS = env.list(
    "PORTAL_RESERVED_SLUGS",
    default=[
        "default", "admin", "administrator", "root", "system", "api", "www", "portal",
        "authentik", "ingress-nginx", "cert-manager", "monitoring", "openwebui", "wordpress",
        "kube", "test", "static", "media", "mail", "ftp", "ns", "dns",
    ],
)  # fmt: skip
# CPU (millicores) and memory (MiB) of the tenant node pool for the approval screen's capacity
# hint where the IONOS API (PORTAL_IONOS_TOKEN, PORTAL_IONOS_CLUSTER_ID) can't give the node
# pools' own; default 16 cores and 64 GiB (three nodes of the platform's default pool size).
PORTAL_CLUSTER_CPU_MILLICORES = env.int("PORTAL_CLUSTER_CPU_MILLICORES", default=16000)
PORTAL_CLUSTER_MEMORY_MIB = env.int("PORTAL_CLUSTER_MEMORY_MIB", default=65536)
# Rows per page in lists; default 25.
PORTAL_PAGE_SIZE = env.int("PORTAL_PAGE_SIZE", default=25)

# --- Roles (from Authentik groups) -------------------------------------------------------------

# Authentik groups whose members approve requests; default portal-admins.
PORTAL_APPROVER_GROUPS = env.list("PORTAL_APPROVER_GROUPS", default=["portal-admins"])
# Authentik groups whose members read everything and change nothing; default portal-auditors.
PORTAL_AUDITOR_GROUPS = env.list("PORTAL_AUDITOR_GROUPS", default=["portal-auditors"])

# --- Sign-in through Authentik (OpenID Connect) ------------------------------------------------

# The portal application's issuer URL in Authentik, e.g.
# https://authentik.local/application/o/portal (no trailing slash); default unset: local login.
PORTAL_OIDC_SERVER_URL = env.str("PORTAL_OIDC_SERVER_URL", default="").rstrip("/")
# OAuth2 client id of the portal in Authentik; default unset.
PORTAL_OIDC_CLIENT_ID = env.str("PORTAL_OIDC_CLIENT_ID", default="")
# OAuth2 client secret of the portal in Authentik; default unset.
PORTAL_OIDC_CLIENT_SECRET = env.str("PORTAL_OIDC_CLIENT_SECRET", default="")
PORTAL_OIDC_ENABLED = bool(PORTAL_OIDC_SERVER_URL and PORTAL_OIDC_CLIENT_ID)

# How the portal authenticates at the token endpoint, as registered in Authentik:
# client_secret_basic or client_secret_post; default client_secret_basic.
PORTAL_OIDC_TOKEN_AUTH_METHOD = env.str(
    "PORTAL_OIDC_TOKEN_AUTH_METHOD", default="client_secret_basic"
)
# Register <portal>/accounts/oidc/authentik/login/callback/ as redirect URI and
# <portal>/accounts/login/ as post-logout redirect URI of the application in Authentik.
SOCIALACCOUNT_PROVIDERS = oidc_providers(
    server_url=PORTAL_OIDC_SERVER_URL,
    client_id=PORTAL_OIDC_CLIENT_ID,
    secret=PORTAL_OIDC_CLIENT_SECRET,
    token_auth_method=PORTAL_OIDC_TOKEN_AUTH_METHOD,
)
# Content Security Policy (django-csp): the portal's own files only, no inline script or style.
# Sign-in and sign-out forms end at Authentik, so forms may also go to its origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF, *filter(None, [url_origin(PORTAL_OIDC_SERVER_URL)])],
    }
}
ACCOUNT_LOGIN_METHODS = {"username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_GET = False
SOCIALACCOUNT_AUTO_SIGNUP = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_LOGIN_ON_GET = False
SOCIALACCOUNT_STORE_TOKENS = False
ACCOUNT_ADAPTER = "portal.auth.adapters.AccountAdapter"
SOCIALACCOUNT_ADAPTER = "portal.auth.adapters.SocialAccountAdapter"

# --- Outside systems: set to switch a driver from plan mode to the real thing ------------------

# Kubeconfig file for the cluster; default unset (in-cluster if PORTAL_KUBE_IN_CLUSTER).
PORTAL_KUBECONFIG = env.str("PORTAL_KUBECONFIG", default="")
# Context inside that kubeconfig; default its current context.
PORTAL_KUBE_CONTEXT = env.str("PORTAL_KUBE_CONTEXT", default="")
# Use the pod's service account; default off.
PORTAL_KUBE_IN_CLUSTER = env.bool("PORTAL_KUBE_IN_CLUSTER", default=False)
# MariaDB admin connection, e.g. mysql://admin:pw@mariadb:3306/?ssl=true; default unset (plan).
PORTAL_MARIADB_URL = env.str("PORTAL_MARIADB_URL", default="")
# S3 endpoint, e.g. https://s3.eu-central-2.ionoscloud.com; default unset (plan).
PORTAL_S3_ENDPOINT_URL = env.str("PORTAL_S3_ENDPOINT_URL", default="")
# S3 region; default eu-central-2.
PORTAL_S3_REGION = env.str("PORTAL_S3_REGION", default="eu-central-2")
# S3 admin access key id and secret; default unset.
PORTAL_S3_ACCESS_KEY_ID = env.str("PORTAL_S3_ACCESS_KEY_ID", default="")
PORTAL_S3_SECRET_ACCESS_KEY = env.str("PORTAL_S3_SECRET_ACCESS_KEY", default="")
# Anyone may read the tenants' media (objects under tenants/) through one bucket-policy
# statement, as WordPress links it; off where a CDN reads the bucket with access of its own;
# default on.
PORTAL_S3_PUBLIC_READ = env.bool("PORTAL_S3_PUBLIC_READ", default=True)
# Host the tenants' media is served from (a CDN or custom domain in front of the bucket), e.g.
# media.example.com; default the bucket's own host at PORTAL_S3_ENDPOINT_URL.
PORTAL_S3_DELIVERY_DOMAIN = env.str("PORTAL_S3_DELIVERY_DOMAIN", default="")
# The platform bucket holding every tenant's prefix; default wordpress-media.
PORTAL_S3_BUCKET = env.str("PORTAL_S3_BUCKET", default="wordpress-media")
# Authentik base URL for its API, called by the portal and by tenants' pods (token, userinfo),
# e.g. http://authentik-server.authentik.svc; default unset (plan).
PORTAL_AUTHENTIK_URL = env.str("PORTAL_AUTHENTIK_URL", default="").rstrip("/")
# Authentik as browsers reach it, for tenant sites' sign-in and sign-out pages, e.g.
# https://auth.example.com, when PORTAL_AUTHENTIK_URL is an in-cluster address; default that URL.
PORTAL_AUTHENTIK_PUBLIC_URL = env.str("PORTAL_AUTHENTIK_PUBLIC_URL", default="").rstrip("/")
# Authentik API token with rights on providers and applications; default unset.
PORTAL_AUTHENTIK_TOKEN = env.str("PORTAL_AUTHENTIK_TOKEN", default="")
# IONOS Cloud API token; default unset.
PORTAL_IONOS_TOKEN = env.str("PORTAL_IONOS_TOKEN", default="")
# IONOS API base URL; default the public API.
PORTAL_IONOS_API_URL = env.str("PORTAL_IONOS_API_URL", default="https://api.ionos.com/cloudapi/v6")
# Managed Kubernetes cluster id whose kubeconfig the IONOS API hands out; default unset.
PORTAL_IONOS_CLUSTER_ID = env.str("PORTAL_IONOS_CLUSTER_ID", default="")

# --- IONOS Cloud (per-tenant S3 users and keys, the cluster's kubeconfig by id) ---------------

# Who issues a tenant's S3 keys: iam (an IAM user per tenant) or ionos (an IONOS user per
# tenant with its own S3 key, through the IONOS API; IONOS Object Storage has no IAM API);
# default ionos for an endpoint at ionoscloud.com, else iam.
PORTAL_S3_CREDENTIALS = env.str(
    "PORTAL_S3_CREDENTIALS",
    default="ionos" if _host(PORTAL_S3_ENDPOINT_URL).endswith(".ionoscloud.com") else "iam",
)
# Who owns the platform bucket on IONOS, which decides how its policy names the tenants' users:
# contract (arn:aws:iam:::user/<contract number>:<user id>) or user (canonical user id);
# default contract, the type IONOS recommends.
PORTAL_IONOS_BUCKET_TYPE = env.str("PORTAL_IONOS_BUCKET_TYPE", default="contract")
# Mail domain of the IONOS users made for tenants (<PORTAL_S3_TENANT_USER_PATTERN>@<this>); the
# platform's own domain, needed in ionos mode; default unset.
PORTAL_IONOS_TENANT_USER_DOMAIN = env.str("PORTAL_IONOS_TENANT_USER_DOMAIN", default="")
# IONOS Cloud DNS zone (id, Terraform output dns_zone_id) where each tenant host in it gets
# an A record; default unset: no dns step, hosts are pointed by hand. Its API's address:
PORTAL_IONOS_DNS_ZONE_ID = env.str("PORTAL_IONOS_DNS_ZONE_ID", default="")
PORTAL_IONOS_DNS_URL = env.str("PORTAL_IONOS_DNS_URL", default="https://dns.de-fra.ionos.com")
# What the records point at: the platform's LoadBalancer IP (Terraform output ingress_ip).
PORTAL_IONOS_DNS_TARGET = env.str("PORTAL_IONOS_DNS_TARGET", default="")
# Seconds resolvers may keep a tenant's record; default 300.
PORTAL_IONOS_DNS_TTL = env.int("PORTAL_IONOS_DNS_TTL", default=300)
# Seconds one IONOS API request may take (connecting: at most 5); default 15.
PORTAL_IONOS_TIMEOUT = env.float("PORTAL_IONOS_TIMEOUT", default=15.0)
# Seconds a kubeconfig fetched by cluster id is kept in the process; default 900.
PORTAL_IONOS_KUBECONFIG_CACHE_SECONDS = env.int(
    "PORTAL_IONOS_KUBECONFIG_CACHE_SECONDS", default=900
)

# --- Authentik (the sso step: one OAuth2 provider and application per tenant) ----------------

# Slug of the flow that authorizes a tenant's WordPress; default
# default-provider-authorization-implicit-consent.
PORTAL_AUTHENTIK_AUTHORIZATION_FLOW = env.str(
    "PORTAL_AUTHENTIK_AUTHORIZATION_FLOW", default="default-provider-authorization-implicit-consent"
)
# Slug of the flow that ends a session from a tenant's WordPress; default
# default-provider-invalidation-flow.
PORTAL_AUTHENTIK_INVALIDATION_FLOW = env.str(
    "PORTAL_AUTHENTIK_INVALIDATION_FLOW", default="default-provider-invalidation-flow"
)
# OAuth2 scopes a tenant's WordPress gets (their scope mappings); default openid, email, profile.
PORTAL_AUTHENTIK_SCOPES = env.list(
    "PORTAL_AUTHENTIK_SCOPES", default=["openid", "email", "profile"]
)
# Name of the certificate-key pair that signs the tenants' ID tokens (RS256; without one
# Authentik signs HS256 with the client secret, which many clients refuse); empty: HS256;
# default authentik Self-signed Certificate, the pair every Authentik install has.
PORTAL_AUTHENTIK_SIGNING_KEY = env.str(
    "PORTAL_AUTHENTIK_SIGNING_KEY", default="authentik Self-signed Certificate"
)
# Authentik group a user must be in to open a tenant's WordPress ({slug} is replaced). With
# {slug} the sso step creates it and keeps its members to the tenant's owner and the people
# the owner adds on the tenant page; without, it binds a platform group it doesn't edit;
# empty: anyone who can sign in to Authentik; default wp-{slug}-users.
PORTAL_AUTHENTIK_ACCESS_GROUP = env.str("PORTAL_AUTHENTIK_ACCESS_GROUP", default="wp-{slug}-users")
# Seconds to wait for a connection to Authentik / for its answer; default 5 / 30.
PORTAL_AUTHENTIK_CONNECT_TIMEOUT = env.float("PORTAL_AUTHENTIK_CONNECT_TIMEOUT", default=5.0)
PORTAL_AUTHENTIK_READ_TIMEOUT = env.float("PORTAL_AUTHENTIK_READ_TIMEOUT", default=30.0)
# Check Authentik's TLS certificate; default on.
PORTAL_AUTHENTIK_VERIFY_TLS = env.bool("PORTAL_AUTHENTIK_VERIFY_TLS", default=True)

# --- MariaDB and S3 (the database and storage steps) ------------------------------------------

# Host pattern of each tenant's database user ('wp_<slug>'@<this>); default % (any host).
PORTAL_MARIADB_USER_HOST = env.str("PORTAL_MARIADB_USER_HOST", default="%")
# Create tenant database users with REQUIRE SSL; default off (on where MariaDB has TLS).
PORTAL_MARIADB_REQUIRE_SSL = env.bool("PORTAL_MARIADB_REQUIRE_SSL", default=False)
# Seconds to wait for a MariaDB connection (reads and writes get three times that); default 10.
PORTAL_MARIADB_TIMEOUT = env.int("PORTAL_MARIADB_TIMEOUT", default=10)
# Schema on the MariaDB server where the portal records the databases and users it made (its
# ownership marker: it adopts or drops nothing without a row there); default tenant_portal.
PORTAL_MARIADB_REGISTRY = env.str("PORTAL_MARIADB_REGISTRY", default="tenant_portal")
# IAM endpoint for the per-tenant S3 users and keys; default unset (the S3 endpoint itself).
PORTAL_S3_IAM_ENDPOINT_URL = env.str("PORTAL_S3_IAM_ENDPOINT_URL", default="")
# S3 addressing style: path or virtual (bucket in the host name); default path.
PORTAL_S3_ADDRESSING_STYLE = env.str("PORTAL_S3_ADDRESSING_STYLE", default="path")
# Seconds to wait for an S3/IAM connection (answers get three times that); default 10.
PORTAL_S3_TIMEOUT = env.int("PORTAL_S3_TIMEOUT", default=10)
# Name of a tenant's IAM user ({slug} is replaced); default wp-tenant-{slug}.
PORTAL_S3_TENANT_USER_PATTERN = env.str("PORTAL_S3_TENANT_USER_PATTERN", default="wp-tenant-{slug}")
# Default encryption of the platform bucket: AES256 (SSE-S3); default AES256.
PORTAL_S3_ENCRYPTION = env.str("PORTAL_S3_ENCRYPTION", default="AES256")
# Most bytes the shared bucket policy may grow to with tenants' statements (ionos mode; S3 caps
# it at 20 KB): the storage step refuses a tenant that would pass it; default 20480.
PORTAL_S3_POLICY_MAX_BYTES = env.int("PORTAL_S3_POLICY_MAX_BYTES", default=20480)

# --- Kubernetes (each tenant's namespace, WordPress, ingress and network policies) -------------

# Seconds one Kubernetes API request may take (connecting: at most 5); default 15.
PORTAL_KUBE_TIMEOUT = env.float("PORTAL_KUBE_TIMEOUT", default=15.0)
# Who the portal is to Kubernetes, bound to PORTAL_KUBE_TENANT_ROLE in each tenant namespace by
# the namespace step (system:serviceaccount:<ns>:<name>, or a user name); empty: no RoleBinding
# (an identity with cluster-wide rights); default the ServiceAccount of deploy/portal.
PORTAL_KUBE_PORTAL_SUBJECT = env.str(
    "PORTAL_KUBE_PORTAL_SUBJECT", default="system:serviceaccount:tenant-portal:tenant-portal"
)
# The ClusterRole with the portal's rights inside one tenant namespace; default as in deploy/.
PORTAL_KUBE_TENANT_ROLE = env.str("PORTAL_KUBE_TENANT_ROLE", default="tenant-portal-tenant")
# The tenants' WordPress image, built from deploy/wordpress (the official image with wp-cli and
# the plugins at pinned versions, so the install Job downloads nothing); {version} is the
# tenant's WordPress version; default tenant-wordpress:{version} (a locally built image).
PORTAL_WORDPRESS_IMAGE = env.str("PORTAL_WORDPRESS_IMAGE", default="tenant-wordpress:{version}")
# The plugin pins the tenant image was built with (in the portal's image too): when they or the
# image setting change, the tenants are reconciled onto it; default deploy/wordpress/plugins.lock.
PORTAL_PLUGINS_LOCK = env.str(
    "PORTAL_PLUGINS_LOCK", default=str(BASE_DIR / "deploy" / "wordpress" / "plugins.lock")
)
# WordPress role of the people the tenant's owner adds (the owner is administrator): editor,
# author, contributor or subscriber; default editor.
PORTAL_WORDPRESS_MEMBER_ROLE = env.str("PORTAL_WORDPRESS_MEMBER_ROLE", default="editor")
# Database host:port WordPress connects to; default the host of PORTAL_MARIADB_URL (else mariadb).
PORTAL_WORDPRESS_DB_HOST = env.str("PORTAL_WORDPRESS_DB_HOST", default="")
# Ingress class of the tenants' Ingresses; default nginx.
PORTAL_INGRESS_CLASS = env.str("PORTAL_INGRESS_CLASS", default="nginx")
# cert-manager ClusterIssuer for the tenants' TLS certificates; default unset (no TLS on ingress).
PORTAL_CERT_ISSUER = env.str("PORTAL_CERT_ISSUER", default="")
# Requests per second and concurrent connections one client may make (NGINX); default 10 and 20.
PORTAL_INGRESS_LIMIT_RPS = env.int("PORTAL_INGRESS_LIMIT_RPS", default=10)
PORTAL_INGRESS_LIMIT_CONNECTIONS = env.int("PORTAL_INGRESS_LIMIT_CONNECTIONS", default=20)
# Largest upload through the ingress (NGINX proxy-body-size); default 64m.
PORTAL_INGRESS_BODY_SIZE = env.str("PORTAL_INGRESS_BODY_SIZE", default="64m")
# Namespace of the ingress controller, the only source of traffic into tenants;
# default ingress-nginx.
PORTAL_INGRESS_NAMESPACE = env.str("PORTAL_INGRESS_NAMESPACE", default="ingress-nginx")
# DNS name of the platform's maintenance server, which answers a suspended tenant's host with
# the "suspended" page (an ExternalName Service in the tenant's namespace points there).
PORTAL_MAINTENANCE_HOST = env.str(
    "PORTAL_MAINTENANCE_HOST", default="maintenance.tenant-portal.svc.cluster.local"
)
# Storage class of the tenants' content volumes; default unset (the cluster's default class).
PORTAL_STORAGE_CLASS = env.str("PORTAL_STORAGE_CLASS", default="")
# Access mode of the content volume (ReadWriteMany needs a class that offers it); ReadWriteOnce.
PORTAL_STORAGE_ACCESS_MODE = env.str("PORTAL_STORAGE_ACCESS_MODE", default="ReadWriteOnce")
# Where tenants may connect out to besides DNS: the database, S3 and Authentik (CIDRs and TCP
# port), nothing else (the install Job included: the image holds the plugins). The CIDRs
# default to the configured address when it is an IP (its /32 or /128); an in-cluster Service
# name (<service>.<namespace>.svc) is reached in its namespace instead (on any port there,
# unless its port is set); any other name means any address, on that service's port only, and
# `check --deploy` warns (provisioning.W030-W032): set your managed services' ranges. The
# ports default to the configured addresses' (PORTAL_WORDPRESS_DB_HOST or PORTAL_MARIADB_URL,
# else 3306; PORTAL_S3_ENDPOINT_URL and PORTAL_AUTHENTIK_URL, else 443).
PORTAL_EGRESS_DB_CIDRS = env.list("PORTAL_EGRESS_DB_CIDRS", default=[])
PORTAL_EGRESS_DB_PORT = env.int("PORTAL_EGRESS_DB_PORT", default=None)
PORTAL_EGRESS_S3_CIDRS = env.list("PORTAL_EGRESS_S3_CIDRS", default=[])
PORTAL_EGRESS_S3_PORT = env.int("PORTAL_EGRESS_S3_PORT", default=None)
PORTAL_EGRESS_AUTHENTIK_CIDRS = env.list("PORTAL_EGRESS_AUTHENTIK_CIDRS", default=[])
PORTAL_EGRESS_AUTHENTIK_PORT = env.int("PORTAL_EGRESS_AUTHENTIK_PORT", default=None)
# Authentik is served through this cluster's ingress controller (PORTAL_INGRESS_NAMESPACE): the
# pods reach it at the controller's pods, where traffic to the load balancer's address from
# inside the cluster usually lands (besides any PORTAL_EGRESS_AUTHENTIK_CIDRS); default false.
PORTAL_EGRESS_AUTHENTIK_VIA_INGRESS = env.bool("PORTAL_EGRESS_AUTHENTIK_VIA_INGRESS", default=False)

# --- AI content pipeline (provisioning/steps/pipeline.py) ----------------------------------------

# Namespace of the pipeline service; default content-pipeline.
PORTAL_PIPELINE_NAMESPACE = env.str("PORTAL_PIPELINE_NAMESPACE", default="content-pipeline")
# The Secret there the pipeline reads its targets from, one key per tenant; pipeline-targets.
PORTAL_PIPELINE_TARGETS_SECRET = env.str(
    "PORTAL_PIPELINE_TARGETS_SECRET", default="pipeline-targets"
)
# app.kubernetes.io/name of the pipeline service's pods: the only ones let into a tenant.
PORTAL_PIPELINE_APP = env.str("PORTAL_PIPELINE_APP", default="content-pipeline")
# Where a tenant's WordPress confirms a publication (the portal's signed webhook); default
# the portal's own address + /hooks/pipeline/.
PORTAL_PIPELINE_WEBHOOK_URL = env.str("PORTAL_PIPELINE_WEBHOOK_URL", default="")
# Namespace and port of the portal's pods (the webhook's receiver); default tenant-portal, 8000.
PORTAL_PIPELINE_WEBHOOK_NAMESPACE = env.str(
    "PORTAL_PIPELINE_WEBHOOK_NAMESPACE", default="tenant-portal"
)
PORTAL_PIPELINE_WEBHOOK_PORT = env.int("PORTAL_PIPELINE_WEBHOOK_PORT", default=8000)
# Seconds a signed webhook's timestamp may be off the portal's clock; default 300.
PORTAL_PIPELINE_WEBHOOK_TOLERANCE = env.int("PORTAL_PIPELINE_WEBHOOK_TOLERANCE", default=300)

# --- REST API (/api/v1/) -----------------------------------------------------------------------

# Longest life of a personal API token, in days; default 365.
PORTAL_API_TOKEN_MAX_DAYS = env.int("PORTAL_API_TOKEN_MAX_DAYS", default=365)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.PortalCursorPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tenant portal API",
    "DESCRIPTION": "Request, decide, inspect and delete WordPress tenants; the same rules and "
    "audit as the portal's pages. Authenticate with `Authorization: Bearer <token>` (a personal "
    "API token from your profile page) or a browser session.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Tenants and backups both have a `state`; each enum gets a name of its own in the schema.
    "ENUM_NAME_OVERRIDES": {
        "TenantStateEnum": "tenants.models.Tenant.State",
        "BackupStateEnum": "tenants.models.Backup.State",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.document_refusals",
    ],
}

# --- Metrics (/metrics, Prometheus) ------------------------------------------------------------

# Bearer token a scraper must send to read /metrics; default unset: no metrics served.
PORTAL_METRICS_TOKEN = env.str("PORTAL_METRICS_TOKEN", default="")
# Callables adding metric families to /metrics (dotted paths); filled by the portal's apps.
PORTAL_METRICS_EXTRA: list[str] = []

# --- Webhooks (api.webhooks) -------------------------------------------------------------------

# Key the endpoints' signing secrets are derived from; default DJANGO_SECRET_KEY. Changing it
# changes every endpoint's secret: the receivers then need the new ones.
PORTAL_WEBHOOK_KEY = env.str("PORTAL_WEBHOOK_KEY", default="")
# Seconds a receiver has to answer one POST; default 5.
PORTAL_WEBHOOK_TIMEOUT = env.float("PORTAL_WEBHOOK_TIMEOUT", default=5.0)
# Attempts per delivery (the first and its retries); default 6.
PORTAL_WEBHOOK_ATTEMPTS = env.int("PORTAL_WEBHOOK_ATTEMPTS", default=6)
# Seconds before the first retry, doubled for each one after; default 30.
PORTAL_WEBHOOK_RETRY_BASE = env.float("PORTAL_WEBHOOK_RETRY_BASE", default=30.0)
# Deliveries failed in a row (all attempts spent) after which an endpoint is disabled; default 5.
PORTAL_WEBHOOK_DISABLE_AFTER = env.int("PORTAL_WEBHOOK_DISABLE_AFTER", default=5)
# Networks (CIDRs, comma-separated) receivers may be in besides the public internet, e.g.
# 10.0.0.0/8 for in-cluster ones; default none: loopback, private, link-local and the like are
# refused at registration and at each delivery. Parsed here, so a typo stops the start.
PORTAL_WEBHOOK_ALLOWED_NETWORKS = [
    str(ipaddress.ip_network(n, strict=False))
    for n in env.list("PORTAL_WEBHOOK_ALLOWED_NETWORKS", default=[])
]
# The function turning a receiver's host and port into its addresses (dotted path); default the
# system resolver. The tests point it at their own (tests/fakes/resolver.py).
PORTAL_WEBHOOK_RESOLVER = "api.webhooks.addresses.system_resolve"
PORTAL_METRICS_EXTRA.append("api.webhooks.metrics.families")
