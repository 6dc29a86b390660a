"""Worker memory: a real Celery worker's resident memory after 10 provisionings and after N."""

import json
import time

import redis

from bench.engine import platform, tenant_row
from bench.load import process_figures, process_tree
from bench.throughput import REDIS_URL, approve_all, bench_worker, controllers, wait_ready
from tenants.models import Tenant
from tests.workers import Worker, wait_until

# Issue 14 names no target for the ratio; a worker that keeps nothing per tenant stays within
# the noise of Python's allocator, which 1.2 leaves room for.
RSS_TARGET = 1.2


def worker_rss(pid: int) -> dict:
    """The worker's main process and its pool children: each's RSS (VmRSS), the sum, in MiB,
    and the CPU seconds they used."""
    main, *pool = (process_figures(p) for p in process_tree(pid))
    pool_mib = [p["rss_mib"] for p in pool]
    return {
        "main_mib": main["rss_mib"],
        "pool_mib": pool_mib,
        "total_mib": round(main["rss_mib"] + sum(pool_mib), 1),
        "cpu_seconds": round(main["cpu_seconds"] + sum(p["cpu_seconds"] for p in pool), 1),
    }


def idle(queue: str, worker: Worker, timeout: float = 60) -> None:
    """Until the queue is empty and nothing is held unacknowledged (the ready mails sent), so
    the memory read is of a worker at rest."""
    broker = redis.Redis.from_url(REDIS_URL)

    def at_rest():  # kombu keeps a message being worked on in "unacked" as [body, exchange, key]
        held = (json.loads(v)[-1] for v in broker.hvals("unacked"))
        return broker.llen(queue) == 0 and queue not in held

    wait_until(at_rest, timeout, "the worker's queue to drain", worker.log)
    time.sleep(1)  # a task acked a moment ago may still be returning its pool process's memory


def bench_memory(
    tmp_dir, owner, plan, tenants: int, latency: float, first: int = 10, concurrency: int = 2
) -> dict:
    """One worker on Redis provisions `first` approved tenants, then the rest; its RSS at rest
    after each batch, and the ratio."""
    first = min(first, tenants)
    for i in range(tenants):
        batch = "a" if i < first else "b"
        tenant_row(owner, plan, f"mem{batch}{i:04d}", state=Tenant.State.REQUESTED).save()
    # The controllers' sweep walks every object of every tenant: at 500 tenants, twice a second.
    with (
        platform(tmp_dir / "memory", latency) as (kube, authentik),
        controllers(kube, 0.5),
        bench_worker(tmp_dir / "memory", kube, authentik, concurrency) as (worker, env),
    ):
        queue = env["PORTAL_PROVISIONING_QUEUE"]
        start = approve_all("mema", env)
        wait_ready("mema", first, worker, 60 + first * 20)
        idle(queue, worker)
        after_first = worker_rss(worker.proc.pid)
        if tenants > first:
            approve_all("memb", env)
            wait_ready("memb", tenants - first, worker, 60 + (tenants - first) * 20)
            idle(queue, worker)
        after_all = worker_rss(worker.proc.pid)
        seconds = time.time() - start
    return {
        "first": first,
        "all": tenants,
        "concurrency": concurrency,
        "latency_seconds": latency,
        "seconds": round(seconds, 1),
        "rss_after_first": after_first,
        "rss_after_all": after_all,
        "rss_ratio": round(after_all["total_mib"] / after_first["total_mib"], 2),
        "pool_rss_ratio": round(sum(after_all["pool_mib"]) / sum(after_first["pool_mib"]), 2),
    }
