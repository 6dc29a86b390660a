"""Prometheus metrics at /metrics: HTTP by view, and the portal's state read at scrape time.

What the database knows (tenants, approvals, the run queue, run and step durations, failures,
drift) is read from it when Prometheus scrapes, so every web process and replica reports the
same numbers, whichever worker did the work. HTTP counts are the web processes' own; under
gunicorn set PROMETHEUS_MULTIPROC_DIR so its workers add up (prometheus-client's multiprocess
mode).
"""

import hmac
import logging
import math
import os
import time
from datetime import timedelta

from django.conf import settings
from django.db.models import (
    Case,
    CharField,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Max,
    Min,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.module_loading import import_string
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.registry import Collector

if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)

HTTP_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
# Steps take from milliseconds (already in place) to minutes (a rollout, a backup Job).
STEP_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800)
RUN_BUCKETS = (1, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)

# Not in the library's default registry: /metrics serves a registry of its own (below).
REQUESTS = Counter(
    "portal_http_requests", "HTTP requests answered, by view, method and status.",
    ["view", "method", "status"], registry=None,
)  # fmt: skip
LATENCY = Histogram(
    "portal_http_request_duration_seconds", "Time to answer an HTTP request, by view.",
    ["view", "method"], buckets=HTTP_BUCKETS, registry=None,
)  # fmt: skip


access_log = logging.getLogger("portal.access")
# Probes and scrapes come every few seconds: their lines would drown the people's.
_QUIET_PATHS = {"/metrics", "/healthz", "/readyz"}


def error_class(field: str = "error"):
    """SQL that names the kind of a step's failure from the engine's own wording of it."""
    return Case(
        When(**{f"{field}__contains": "(gave up after "}, then=Value("transient")),
        When(**{f"{field}__startswith": "gave up after waiting"}, then=Value("wait_timeout")),
        When(**{f"{field}__startswith": "cut off "}, then=Value("cut_off")),
        When(**{f"{field}__startswith": "internal error"}, then=Value("internal")),
        default=Value("refused"),
        output_field=CharField(),
    )


def _histogram(family: HistogramMetricFamily, qs, label: str, buckets) -> None:
    """Add one series per `label` value from rows with started_at and finished_at."""
    took = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    counts = {
        f"le{i}": Count("id", filter=Q(took__lte=timedelta(seconds=b)))
        for i, b in enumerate(buckets)
    }
    rows = (
        qs.filter(started_at__isnull=False, finished_at__isnull=False)
        .annotate(took=took)
        .values(label)
        .annotate(total=Count("id"), took_sum=Sum("took"), **counts)
        .order_by(label)
    )
    for row in rows:
        cumulative = [(str(float(b)), row[f"le{i}"]) for i, b in enumerate(buckets)]
        seconds = row["took_sum"].total_seconds() if row["took_sum"] else 0.0
        family.add_metric([row[label]], [*cumulative, ("+Inf", row["total"])], sum_value=seconds)


class PortalCollector(Collector):
    """The portal's state, read from its database at each scrape."""

    def collect(self):
        from provisioning.models import Run, StepRun
        from tenants.models import Plan, Tenant

        now = timezone.now()

        tenants = GaugeMetricFamily(
            "portal_tenants", "Tenants by state and plan.", labels=["state", "plan"]
        )
        counts = {
            (r["state"], r["plan__name"]): r["n"]
            for r in Tenant.objects.values("state", "plan__name").annotate(n=Count("id"))
        }
        for plan in Plan.objects.values_list("name", flat=True):
            for state in Tenant.State.values:
                tenants.add_metric([state, plan], counts.get((state, plan), 0))
        yield tenants

        pending = Tenant.objects.filter(state=Tenant.State.REQUESTED).aggregate(
            n=Count("id"), oldest=Min("created_at")
        )
        yield GaugeMetricFamily(
            "portal_pending_approvals", "Requests awaiting a decision.", value=pending["n"]
        )
        yield GaugeMetricFamily(
            "portal_pending_approval_oldest_age_seconds",
            "How long the oldest request has waited for a decision (0 when none waits).",
            value=(now - pending["oldest"]).total_seconds() if pending["oldest"] else 0,
        )

        # Due: waiting for a worker to pick it up now (a parked run is due at not_before).
        due = Run.objects.filter(
            Q(status=Run.Status.PENDING) | Q(status=Run.Status.WAITING, not_before__lte=now)
        ).aggregate(n=Count("id"), since=Min(Coalesce("not_before", "created_at")))
        yield GaugeMetricFamily(
            "portal_run_queue_length", "Runs due that no worker has taken up yet.", value=due["n"]
        )
        yield GaugeMetricFamily(
            "portal_run_queue_oldest_wait_seconds",
            "How long the longest-waiting due run has waited for a worker (0 when none).",
            value=max((now - due["since"]).total_seconds(), 0) if due["since"] else 0,
        )
        open_runs = GaugeMetricFamily(
            "portal_runs_open", "Runs not finished, by status.", labels=["status"]
        )
        by_status = dict(
            Run.objects.filter(status__in=Run.OPEN).values_list("status").annotate(n=Count("id"))
        )
        for status in Run.OPEN:
            open_runs.add_metric([status], by_status.get(status, 0))
        yield open_runs

        finished = CounterMetricFamily(
            "portal_runs_finished", "Finished runs, by action and outcome.",
            labels=["action", "status"],
        )  # fmt: skip
        for row in (
            Run.objects.exclude(status__in=Run.OPEN)
            .values("action", "status")
            .annotate(n=Count("id"))
            .order_by("action", "status")
        ):
            finished.add_metric([row["action"], row["status"]], row["n"])
        yield finished

        runs = HistogramMetricFamily(
            "portal_run_duration_seconds",
            "Time from a run's start to its end, by action.",
            labels=["action"],
        )
        ended = Run.objects.filter(status__in=[Run.Status.SUCCEEDED, Run.Status.FAILED])
        _histogram(runs, ended, "action", RUN_BUCKETS)
        yield runs

        steps = HistogramMetricFamily(
            "portal_step_duration_seconds",
            "Time from a step's first attempt to its end (retries and waits included), by step.",
            labels=["step"],
        )
        done = StepRun.objects.filter(status__in=[*StepRun.DONE, StepRun.Status.FAILED])
        _histogram(steps, done, "name", STEP_BUCKETS)
        yield steps

        failures = CounterMetricFamily(
            "portal_step_failures",
            "Steps that failed their run, by step and kind of error (transient: retries ran "
            "out; wait_timeout; cut_off: the worker died; internal: a bug; refused: needs a "
            "human).",
            labels=["step", "error_class"],
        )
        for row in (
            StepRun.objects.filter(status=StepRun.Status.FAILED)
            .annotate(kind=error_class())
            .values("name", "kind")
            .annotate(n=Count("id"))
            .order_by("name", "kind")
        ):
            failures.add_metric([row["name"], row["kind"]], row["n"])
        yield failures

        drift = Run.objects.filter(reason="drift", status=Run.Status.SUCCEEDED).exclude(drift=[])
        yield CounterMetricFamily(
            "portal_drift_found", "Drift checks that found a difference.", value=drift.count()
        )
        yield CounterMetricFamily(
            "portal_drift_repaired",
            "Drift checks that repaired what they found.",
            value=drift.filter(action=Run.Action.APPLY).count(),
        )
        yield from _backup_families(now)
        yield from _heartbeat_families()
        yield from _extra_families()


def _backup_families(now):
    """How old each serving tenant's newest good backup is (what the RPO alert watches)."""
    from tenants.models import Backup, Tenant

    serving = Tenant.objects.filter(state=Tenant.State.READY)
    newest = dict(
        Backup.objects.filter(tenant__in=serving, state=Backup.State.DONE)
        .values_list("tenant__slug")
        .annotate(last=Max("finished_at"))
        .order_by()
    )
    age = GaugeMetricFamily(
        "portal_backup_age_seconds",
        "Time since the newest successful backup of each ready tenant.",
        labels=["tenant"],
    )
    for slug, last in sorted(newest.items()):
        if last is not None:
            age.add_metric([slug], (now - last).total_seconds())
    yield age
    yield GaugeMetricFamily(
        "portal_tenants_without_backup",
        "Ready tenants with no successful backup at all.",
        value=serving.exclude(slug__in=list(newest)).count(),
    )
    yield from _overdue_families(now, serving)


def _overdue_families(now, serving):
    """Each ready tenant's plan's RPO and whether it is past it, by the tenant page's own rule
    (tenants.backupschedule.is_overdue), so the alert and the page agree tenant by tenant."""
    from tenants.backupschedule import is_overdue, with_backup_times

    rpo = GaugeMetricFamily(
        "portal_backup_max_age_seconds",
        "The RPO of each ready tenant's plan: how old its newest good backup may be (none: the "
        "plan promises nothing).",
        labels=["tenant"],
    )
    overdue = GaugeMetricFamily(
        "portal_backup_overdue",
        "1 where a ready tenant's newest good backup (or, with none, the tenant) is older than "
        "its plan's RPO and no backup begun in time is under way; else 0.",
        labels=["tenant"],
    )
    promised = serving.filter(plan__backup_max_age_hours__isnull=False).order_by("slug")
    for tenant in with_backup_times(promised):
        rpo.add_metric([tenant.slug], tenant.plan.backup_max_age_hours * 3600)
        overdue.add_metric([tenant.slug], 1 if is_overdue(tenant, now) else 0)
    yield rpo
    yield overdue


def _heartbeat_families():
    """The workers' heartbeat /readyz reads: a pod Kubernetes counts as available may be hung."""
    from portal import heartbeat

    queue = [settings.PORTAL_PROVISIONING_QUEUE]
    age = heartbeat.seconds_since()
    family = GaugeMetricFamily(
        "portal_worker_heartbeat_age_seconds",
        "Seconds since a worker on the queue last beat (+Inf: none ever seen, or the cache "
        "that holds the beats, which is also the broker, is unreachable).",
        labels=["queue"],
    )
    family.add_metric(queue, math.inf if age is None else age)
    yield family
    stale = GaugeMetricFamily(
        "portal_worker_heartbeat_stale_after_seconds",
        "Age of the heartbeat past which /readyz and the pages say no worker runs.",
        labels=["queue"],
    )
    stale.add_metric(queue, settings.PORTAL_WORKER_STALE_AFTER)
    yield stale


def _extra_families():
    """Families other modules add (webhook deliveries): callables named in the setting."""
    for path in settings.PORTAL_METRICS_EXTRA:
        yield from import_string(path)()


def _build_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every gunicorn worker writes its counts to files there; this sums them.
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(PortalCollector())
    return registry


_REGISTRY = _build_registry()


def metrics_view(request):
    """The metrics, for a scraper that sends `Authorization: Bearer <PORTAL_METRICS_TOKEN>`;
    without that setting there is nothing here."""
    expected = settings.PORTAL_METRICS_TOKEN
    if not expected:
        raise Http404("Metrics are off: PORTAL_METRICS_TOKEN is not set.")
    sent = request.headers.get("Authorization", "")
    if not hmac.compare_digest(sent.encode(), f"Bearer {expected}".encode()):
        response = HttpResponse("Send the metrics token as a Bearer token.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(_REGISTRY), content_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Counts and times every request under its view's name (never its path: ids and slugs
    would make a series per tenant)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        if request.path_info == "/metrics":
            # Answered here, before Django checks the Host: Prometheus scrapes the pod by its
            # address and cannot send another Host (a ServiceMonitor has no headers), and
            # this answer builds no URL from it. The token still guards it.
            response, view = metrics_view(request), "metrics"
        else:
            response = self.get_response(request)
            match = getattr(request, "resolver_match", None)
            view = (match.view_name or match._func_path) if match else "unmatched"
        method = request.method if request.method in _METHODS else "other"
        elapsed = time.perf_counter() - started
        LATENCY.labels(view, method).observe(elapsed)
        REQUESTS.labels(view, method, str(response.status_code)).inc()
        # The access log, as a JSON line with the request id (gunicorn's own is off): the
        # path without its query, which may carry what a caller would not want logged.
        if request.path in _QUIET_PATHS:
            return response
        access_log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={
                "view": view,
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 1),
            },
        )
        return response


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}
