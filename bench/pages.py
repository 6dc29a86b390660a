"""Pages at a small and a large portal: queries and server time, and their ratios."""

import operator
import os
import statistics
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.utils import load_backend
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bench.engine import tenant_row
from bench.measure import queries
from tenants.models import AuditEvent, Tenant

PAGES = ("tenant_list", "approval_queue", "tenant_detail", "admin_audit_list", "admin_tenant_list")


def grow(owner, plan, tenants: int, events: int, prefix: str) -> None:
    """Bulk-create tenants (a tenth waiting for approval) and audit events up to the counts."""
    have = Tenant.objects.count()
    now = timezone.now()
    ready, waiting = Tenant.State.READY, Tenant.State.REQUESTED
    rows = [
        tenant_row(owner, plan, f"{prefix}{i:06d}", waiting if i % 10 == 0 else ready)
        for i in range(have, tenants)
    ]
    Tenant.objects.bulk_create(rows, batch_size=2000)
    have = AuditEvent.objects.count()
    actions = [a for a, _ in AuditEvent.Action.choices]
    rows = [
        AuditEvent(
            created_at=now - timedelta(minutes=10 * (events - i)),  # two years of events
            actor_name=owner.get_username(),
            action=actions[i % len(actions)],
            object_type="tenant",
            object_id=str(i % max(tenants, 1)),
            object_repr=f"site {i % max(tenants, 1)}",
            message="Bench event.",
            prev_hash=uuid.uuid4().hex * 2,
            hash=uuid.uuid4().hex * 2,
        )
        for i in range(have, events)
    ]
    AuditEvent.objects.bulk_create(rows, batch_size=5000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # as autovacuum would after such growth: plans for the size


def _urls(detail_pk: int) -> dict[str, str]:
    return {
        "tenant_list": reverse("tenants:list"),
        "approval_queue": reverse("tenants:approvals"),
        "tenant_detail": reverse("tenants:detail", args=[detail_pk]),
        "admin_audit_list": reverse("admin:tenants_auditevent_changelist"),
        "admin_tenant_list": reverse("admin:tenants_tenant_changelist"),
    }


def _get(who: Client, url: str) -> None:
    response = who.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"{url} answered {response.status_code}")


@contextmanager
def _using(wrapper):
    """The portal's default database is `wrapper`'s while the block runs."""
    before = connections[DEFAULT_DB_ALIAS]
    connections[DEFAULT_DB_ALIAS] = wrapper
    try:
        yield
    finally:
        connections[DEFAULT_DB_ALIAS] = before


def measure(who: Client, url: str, portals: dict, repeat: int) -> dict:
    """Queries and median server time of one page at each portal, loaded in turn, and the
    median of each round's time ratio: a load the other sessions put on the shared cores
    lands on both sizes alike, not on one of them."""
    figures = {}
    for size, wrapper in portals.items():
        with _using(wrapper):
            _get(who, url)  # warms the connection and the caches
            with queries() as ran:
                _get(who, url)
        slowest = max(ran, default=(0.0, ""))
        figures[size] = {
            "queries": len(ran),
            "times": [],
            "slowest_query": {"seconds": slowest[0], "sql": slowest[1][:300]},
        }
    for round_ in range(repeat):
        # Each round in the other order too, so neither size always follows the other.
        for size in sorted(portals, reverse=bool(round_ % 2)):
            with _using(portals[size]):
                start = time.perf_counter()
                _get(who, url)
                figures[size]["times"].append(time.perf_counter() - start)
    ratios = map(operator.truediv, figures["large"]["times"], figures["small"]["times"])
    figures["ratio"] = statistics.median(ratios)
    for size in portals:
        figures[size]["seconds"] = statistics.median(figures[size].pop("times"))
    return figures


def bench_pages(approver, plan, small, large, events_small, events_large, repeat: int):
    """Each page at `small` tenants and at `large` tenants with `events_large` audit events,
    the two portals in two databases at once (the large one a copy of the small one, grown)."""
    User = get_user_model()
    superuser = User.objects.create_superuser("bench-admin", "admin@example.com", None)
    client, admin = Client(), Client()
    client.force_login(approver)
    admin.force_login(superuser)
    grow(approver, plan, small, events_small, "page")
    detail = Tenant.objects.filter(slug__startswith="page").order_by("pk").first()
    creation = connection.creation
    creation.clone_test_db(suffix="large", verbosity=0)  # sessions and all
    clone = creation.get_test_db_clone_settings("large")
    grown = load_backend(clone["ENGINE"]).DatabaseWrapper(clone, DEFAULT_DB_ALIAS)
    portals = {"small": connections[DEFAULT_DB_ALIAS], "large": grown}
    try:
        with _using(grown):
            grow(approver, plan, large, events_large, "page")
        pages = {}
        for name, url in _urls(detail.pk).items():
            who = admin if name.startswith("admin_") else client
            load = round(os.getloadavg()[0], 2)
            at = measure(who, url, portals, repeat)
            pages[name] = {
                "queries_small": at["small"]["queries"],
                "queries_large": at["large"]["queries"],
                "seconds_small": round(at["small"]["seconds"], 4),
                "seconds_large": round(at["large"]["seconds"], 4),
                "time_ratio": round(at["ratio"], 2),
                "loads": repeat,
                "load_average": [load, round(os.getloadavg()[0], 2)],
                "slowest_query_large": at["large"]["slowest_query"],
            }
    finally:
        grown.close()
        creation._destroy_test_db(clone["NAME"], verbosity=0)
    return pages
