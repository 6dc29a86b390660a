"""Every benchmark in turn, then the figures beside their targets (issue 14)."""

import operator
from pathlib import Path

from django.db import connection

from bench.engine import bench_engine, bench_memory
from bench.pages import PAGES, bench_pages
from tests.factories import UserFactory, plan

LE, EQ = ("<=", operator.le), ("==", operator.eq)


def figure(name: str, value, target, how=LE, note: str = "") -> dict:
    word, check = how
    row = {"name": name, "value": value, "target": f"{word} {target}", "met": check(value, target)}
    if note:
        row["note"] = note
    return row


def run_all(tmp_dir: Path, options) -> dict:
    approver = UserFactory(username="bench-approver", role="approver")
    owner = UserFactory(username="bench-owner", role="requester")
    small = plan("small")
    pages = bench_pages(
        approver,
        small,
        options.page_tenants_small,
        options.page_tenants,
        100,
        options.audit_events,
        options.repeat,
    )
    engine = bench_engine(tmp_dir, owner, small, options.tenants, options.latency)
    memory = bench_memory(tmp_dir, owner, small, options.rss_tenants)
    figures = [
        figure(
            "engine time / baseline making the same calls", engine["engine_overhead_ratio"], 1.3
        ),
        figure(
            "Kubernetes requests per object applied",
            engine["kube_requests_per_object"],
            1.5,
            note=f"{engine['kube_requests_per_tenant']} per tenant, "
            f"{engine['kube_requests_per_tenant_by_verb']}",
        ),
        figure("Secret PATCHes per tenant", engine["secret_patches_per_tenant"], 2),
        figure(
            "portal-database queries per provisioning",
            engine["portal_queries_per_provisioning"],
            30,
        ),
    ]
    for name in PAGES:
        page = pages[name]
        grows = name.startswith("admin_")
        if grows:  # the Django admin: a bounded number of queries whatever the table's size
            figures.append(
                figure(f"{name} queries at {options.page_tenants}", page["queries_large"], 10)
            )
        else:  # the portal's pages: as many queries at the large portal as at the small one
            figures.append(
                figure(
                    f"{name} queries large vs small",
                    page["queries_large"],
                    page["queries_small"],
                    EQ,
                )
            )
        figures.append(figure(f"{name} time large / small", page["time_ratio"], 2))
    figures.append(
        figure(
            f"worker RSS after {memory['all']} / after {memory['first']}", memory["rss_ratio"], 1.5
        )
    )
    return {
        "latency_seconds": options.latency,
        "sizes": {
            "engine_tenants": options.tenants,
            "page_tenants": [options.page_tenants_small, options.page_tenants],
            "audit_events": [100, options.audit_events],
            "rss_tenants": options.rss_tenants,
        },
        "database": connection.vendor,
        "figures": figures,
        "engine": engine,
        "pages": pages,
        "memory": memory,
    }


def summary(result: dict) -> str:
    met = sum(1 for f in result["figures"] if f["met"])
    lines = [
        f"{met} of {len(result['figures'])} targets met "
        f"(outside-call latency {result['latency_seconds'] * 1000:.0f} ms per request):"
    ]
    for f in result["figures"]:
        mark = "ok  " if f["met"] else "MISS"
        lines.append(f"  {mark} {f['name']}: {f['value']} (target {f['target']})")
    return "\n".join(lines)
