"""Liveness and readiness probes, open without login."""

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

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


@never_cache
@require_GET
def readyz(request):
    """The database and the broker answer: 200, else 503 naming what fails."""
    failures = {
        name: problem
        for name, problem in (("database", _check_database()), ("broker", _check_broker()))
        if problem
    }
    if failures:
        return JsonResponse({"status": "unavailable", "failing": failures}, status=503)
    return JsonResponse({"status": "ok", "checks": {"database": "ok", "broker": "ok"}})
