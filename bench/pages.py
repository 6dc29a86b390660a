"""Pages at a small and a large portal: queries and server time, and their ratios."""

import uuid
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from bench.engine import tenant_row
from bench.measure import queries, timed
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


def measure(client: Client, admin: Client, detail_pk: int, repeat: int) -> dict:
    """Queries and median server time of each page, seen by a platform admin."""
    urls = {
        "tenant_list": (client, reverse("tenants:list")),
        "approval_queue": (client, reverse("tenants:approvals")),
        "tenant_detail": (client, reverse("tenants:detail", args=[detail_pk])),
        "admin_audit_list": (admin, reverse("admin:tenants_auditevent_changelist")),
        "admin_tenant_list": (admin, reverse("admin:tenants_tenant_changelist")),
    }
    figures = {}
    for name, (who, url) in urls.items():

        def get(who=who, url=url, name=name):
            response = who.get(url)
            if response.status_code != 200:
                raise RuntimeError(f"{name} {url} answered {response.status_code}")

        with queries() as ran:
            get()
        slowest = max(ran, default=(0.0, ""))
        figures[name] = {
            "queries": len(ran),
            "seconds": round(timed(get, repeat), 4),
            "slowest_query": {"seconds": slowest[0], "sql": slowest[1][:300]},
        }
    return figures


def bench_pages(approver, plan, small, large, events_small, events_large, repeat: int = 5):
    """Each page at `small` tenants and at `large` tenants with `events_large` audit events."""
    User = get_user_model()
    superuser = User.objects.create_superuser("bench-admin", "admin@example.com", None)
    client, admin = Client(), Client()
    client.force_login(approver)
    admin.force_login(superuser)
    grow(approver, plan, small, events_small, "page")
    detail = Tenant.objects.filter(slug__startswith="page").order_by("pk").first()
    before = measure(client, admin, detail.pk, repeat)
    grow(approver, plan, large, events_large, "page")
    after = measure(client, admin, detail.pk, repeat)
    return {
        name: {
            "queries_small": before[name]["queries"],
            "queries_large": after[name]["queries"],
            "seconds_small": before[name]["seconds"],
            "seconds_large": after[name]["seconds"],
            "time_ratio": round(after[name]["seconds"] / before[name]["seconds"], 2),
            "slowest_query_large": after[name]["slowest_query"],
        }
        for name in PAGES
    }
