"""Liveness and readiness probes, open without login."""

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from portal import heartbeat
from portal.celery import app as celery_app


@never_cache
@require_GET
def healthz(request):
    """The process is alive and answers."""
    return JsonResponse({"status": "ok"})


def _check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return f"the database does not answer ({exc.__class__.__name__})"
    return None


def _check_broker() -> str | None:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"the Celery broker does not answer ({exc.__class__.__name__})"
    return None


def _workers() -> str:
    age = heartbeat.seconds_since()
    if heartbeat.worker_alive():
        return "ok"
    return "none seen yet" if age is None else f"none seen for {age:.0f} s"


@never_cache
@require_GET
def readyz(request):
    """The database and the broker answer: 200, else 503 naming what fails. Whether a worker
    was seen recently is reported, not failed on: the web pods serve pages without one."""
    failures = {
        name: problem
        for name, problem in (("database", _check_database()), ("broker", _check_broker()))
        if problem
    }
    if failures:
        return JsonResponse({"status": "unavailable", "failing": failures}, status=503)
    workers = _workers()
    body = {"status": "ok", "checks": {"database": "ok", "broker": "ok", "workers": workers}}
    if workers != "ok":
        body["warnings"] = {"workers": heartbeat.worker_words(for_admin=True)}
    return JsonResponse(body)
