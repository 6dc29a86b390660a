"""Worker throughput: N tenants approved at once, provisioned by real Celery workers on Redis at
concurrency 1 and then 4, until every one is ready; tenants per minute and the speed-up."""

import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager

import redis
from django.db import connection

from bench.cpu import bound, cpu_round
from bench.engine import STEPS, platform, tenant_row
from tenants.models import Tenant
from tests.workers import ROOT, Worker, wait_until, worker_env

# A Redis database of the bench's own (the tests' broker is 15, their caches 11 and 14) and a
# queue per run, so neither a test session's workers nor another bench see these messages.
REDIS_URL = "redis://127.0.0.1:6379/13"


@contextmanager
def controllers(kube, every: float = 0.2):
    """Play the cluster's controllers while the workers run: rollouts finish, Jobs complete."""
    stop = threading.Event()

    def loop():
        while not stop.wait(every):
            kube.mark_ready()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def bench_throughput(tmp_dir, owner, plan, tenants: int, latency: float, levels=(1, 4)) -> dict:
    """Tenants per minute at each worker concurrency, and the speed-up of the last over the
    first."""
    rounds = {}
    with platform(tmp_dir / "throughput", latency) as (kube, authentik), controllers(kube):
        for concurrency in levels:
            rounds[concurrency] = one_round(
                tmp_dir, kube, authentik, owner, plan, tenants, concurrency
            )
    first, last = rounds[levels[0]], rounds[levels[-1]]
    return {
        "tenants": tenants,
        "latency_seconds": latency,
        "rounds": {str(c): r for c, r in rounds.items()},
        "speedup": round(last["tenants_per_minute"] / first["tenants_per_minute"], 2),
        "levels": list(levels),
        "cpu": bound(rounds, tenants, levels),
    }


@contextmanager
def bench_worker(tmp_dir, kube, authentik, concurrency: int, overrides: dict | None = None):
    """A real worker on a queue of its own (`overrides` on top of its environment), started and
    ready; yields it and its environment (for the approver), then stops it and leaves nothing of
    its queue in Redis."""
    queue = f"bench-{tmp_dir.name}-{uuid.uuid4().hex[:12]}"
    env = {**bench_worker_env(tmp_dir, kube, authentik, queue), **(overrides or {})}
    log = tmp_dir.parent / f"{tmp_dir.name}-c{concurrency}.log"
    worker = Worker(env, log, f"{tmp_dir.name}{concurrency}", concurrency=concurrency, queue=queue)
    try:
        wait_until(lambda: " ready." in worker.log(), 60, "the worker to start", worker.log)
        yield worker, env
    finally:
        worker.stop()
        drop_queue(queue)
        connection.close()  # a fresh connection for the next round's reads


def bench_worker_env(tmp_dir, kube, authentik, queue: str) -> dict[str, str]:
    """A bench worker's environment: the Redis broker, `queue` alone, the test servers."""
    return worker_env(
        {
            "CELERY_BROKER_URL": REDIS_URL,
            "PORTAL_PROVISIONING_QUEUE": queue,
            "PORTAL_TEST_DEFAULT_QUEUE": queue,  # the ready mails too: the round's one queue
            # Connections kept across tasks, as in production (CONN_MAX_AGE 60): the CPU of
            # their backends is read while they live (bench.cpu), not lost as each task ends.
            "PORTAL_TEST_CONN_MAX_AGE": "600",
            "PORTAL_STEPS": ",".join(STEPS),
            "PORTAL_KUBECONFIG": str(kube.kubeconfig_path),
            "PORTAL_KUBE_CONTEXT": "",
            "PORTAL_KUBE_TIMEOUT": "30",
            "PORTAL_AUTHENTIK_URL": authentik.url,
            "PORTAL_AUTHENTIK_TOKEN": authentik.token,
            "PORTAL_PLAN_DIR": str(tmp_dir / "plan"),
            "PORTAL_RETRY_BASE_DELAY": "0.2",
            "PORTAL_WAIT_FIRST": "0.5",
            "PORTAL_WAIT_INTERVAL": "1",
        }
    )


def approve_all(prefix: str, env: dict[str, str]) -> float:
    """Approve every requested tenant whose slug starts with `prefix` from a process of its own
    (queueing on the Redis broker as the portal does); the time just before the first."""
    approved = subprocess.run(
        [sys.executable, "-m", "bench.approve", prefix, "bench-approver"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if approved.returncode:
        raise RuntimeError(f"approving failed:\n{approved.stderr[-3000:]}")
    return float(approved.stdout.split()[0])


def wait_ready(prefix: str, tenants: int, worker: Worker, timeout: float) -> None:
    """Until all `tenants` whose slug starts with `prefix` are ready; a failed one ends it."""
    mine = Tenant.objects.filter(slug__startswith=prefix)

    def all_ready():
        failed = mine.filter(state=Tenant.State.FAILED).values_list("slug", "last_error")
        if failed:
            raise RuntimeError(f"bench tenants failed: {list(failed)}\n{worker.log()[-3000:]}")
        return mine.filter(state=Tenant.State.READY).count() == tenants

    wait_until(all_ready, timeout, "every tenant ready", worker.log)


def drop_queue(queue: str) -> None:
    """The queue and kombu's records of its exchange: nothing of a round stays in Redis."""
    bindings = (f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
    redis.Redis.from_url(REDIS_URL).delete(queue, *bindings)


def one_round(tmp_dir, kube, authentik, owner, plan, tenants: int, concurrency: int) -> dict:
    prefix = f"thr{concurrency}x"
    for i in range(tenants):
        tenant_row(owner, plan, f"{prefix}{i:04d}", state=Tenant.State.REQUESTED).save()
    with (
        bench_worker(tmp_dir / "throughput", kube, authentik, concurrency) as (worker, env),
        cpu_round(worker.proc.pid, REDIS_URL) as cpu,
    ):
        start = approve_all(prefix, env)  # just before the first approval
        wait_ready(prefix, tenants, worker, 60 + tenants * 20 / concurrency)
        seconds = time.time() - start
    return {
        "concurrency": concurrency,
        "seconds": round(seconds, 2),
        "tenants_per_minute": round(tenants * 60 / seconds, 1),
        "cpu": cpu,
    }
