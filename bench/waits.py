"""Waiting without fixed delays (issue 12): seconds from a held-back rollout finishing to the
tenant ready, and a deprovisioning's seconds, with one real Celery worker on Redis."""

import subprocess
import sys
import time
from functools import partial

from django.conf import settings

from bench.engine import platform, tenant_row
from bench.throughput import approve_all, bench_worker, controllers
from provisioning.models import Run, StepRun
from tenants.models import Tenant
from tests.workers import ROOT, wait_until

HOLD_SECONDS = 2.0  # the rollout is held back this long once the engine waits on it
READY_TARGET = 2.0  # issue 12: ready within about 2 s of the rollout finishing
# Issue 12 asks for no fixed 10 s steps; a teardown of the bench's steps at its latency takes
# about a second, so 5 s leaves room for a look or two but not for one 10 s wait.
DEPROVISION_TARGET = 5.0


def bench_waits(tmp_dir, owner, plan, tenants: int, latency: float) -> dict:
    """Each tenant in turn: approved, its rollout held until the engine has waited on it for
    HOLD_SECONDS, then finished at a known moment; then deprovisioned."""
    # The portal's own waits (PORTAL_WAIT_FIRST, PORTAL_WAIT_INTERVAL), not the shortened ones
    # the other benches give their workers: what is measured is what a deployment waits.
    waits = {
        "PORTAL_WAIT_FIRST": str(settings.PORTAL_WAIT_FIRST),
        "PORTAL_WAIT_INTERVAL": str(settings.PORTAL_WAIT_INTERVAL),
    }
    ready, deprovision = [], []
    with (
        platform(tmp_dir / "waits", latency) as (kube, authentik),
        bench_worker(tmp_dir / "waits", kube, authentik, 1, waits) as (worker, env),
    ):
        for i in range(tenants):
            slug = f"wait{i:04d}"
            tenant = tenant_row(owner, plan, slug, state=Tenant.State.REQUESTED)
            tenant.save()
            ready.append(ready_after_rollout(tenant, kube, env, worker))
            with controllers(kube):  # the teardown has nothing to hold back
                deprovision.append(deprovision_seconds(tenant, env, worker))
    return {
        "tenants": tenants,
        "latency_seconds": latency,
        "hold_seconds": HOLD_SECONDS,
        "wait_first": float(waits["PORTAL_WAIT_FIRST"]),
        "wait_interval": float(waits["PORTAL_WAIT_INTERVAL"]),
        "ready_after_rollout_seconds": ready,
        "ready_after_rollout_max": max(ready, default=0.0),
        "deprovision_seconds": deprovision,
        "deprovision_max": max(deprovision, default=0.0),
    }


def ready_after_rollout(tenant: Tenant, kube, env, worker) -> float:
    """Approve, wait until a step waits on the cluster, hold HOLD_SECONDS, finish the rollout
    (and from then on play the controllers); seconds from that moment to the tenant ready."""
    approve_all(tenant.slug, env)
    waiting = StepRun.objects.filter(run__tenant=tenant, status=StepRun.Status.WAITING)
    wait_until(waiting.exists, 60, f"{tenant.slug}'s engine to wait on the cluster", worker.log)
    time.sleep(HOLD_SECONDS)
    with controllers(kube):
        kube.mark_ready(tenant.namespace)
        finished = time.time()  # the rollout's end: the engine's next look finds it done
        done = partial(state, tenant, Tenant.State.READY)
        wait_until(done, 60, f"{tenant.slug} ready", worker.log)
    tenant.refresh_from_db()
    return round(tenant.state_changed_at.timestamp() - finished, 2)


def deprovision_seconds(tenant: Tenant, env, worker) -> float:
    """Delete the tenant from the command line (queued on the worker's broker); seconds from
    its destroy run being queued to that run's end."""
    deleted = subprocess.run(
        [sys.executable, "manage.py", "tenant_deprovision", tenant.slug, "--yes"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if deleted.returncode:
        raise RuntimeError(f"deprovisioning failed:\n{deleted.stderr[-3000:]}")
    gone = partial(state, tenant, Tenant.State.DELETED)
    wait_until(gone, 60, f"{tenant.slug} gone", worker.log)
    run = Run.objects.get(tenant=tenant, action=Run.Action.DESTROY)
    return round((run.finished_at - run.created_at).total_seconds(), 2)


def state(tenant: Tenant, wanted: str) -> bool:
    """Whether the tenant has reached `wanted`; failing instead ends the bench."""
    tenant.refresh_from_db(fields=["state", "last_error"])
    if tenant.state == Tenant.State.FAILED:
        raise RuntimeError(f"bench tenant {tenant.slug} failed: {tenant.last_error}")
    return tenant.state == wanted


def waits_figures(waits: dict) -> list[dict]:
    from bench.run import figure  # run imports this module: at call time, not at import

    n, hold = waits["tenants"], waits["hold_seconds"]
    first, most = waits["wait_first"], waits["wait_interval"]
    looks = f"PORTAL_WAIT_FIRST {first} s, PORTAL_WAIT_INTERVAL {most} s"
    return [
        figure(
            f"seconds from rollout done to tenant ready, worst of {n}",
            waits["ready_after_rollout_max"],
            READY_TARGET,
            note=f"{waits['ready_after_rollout_seconds']}; rollout held {hold} s, {looks}",
        ),
        figure(
            f"deprovisioning seconds, worst of {n}",
            waits["deprovision_max"],
            DEPROVISION_TARGET,
            note=f"{waits['deprovision_seconds']}; no fixed 10 s steps (the bench's 5 s target)",
        ),
    ]
