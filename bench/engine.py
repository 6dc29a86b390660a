"""The engine's cost per new tenant: time against a bare replay of its outside calls, the
Kubernetes and Authentik requests it makes and its portal-database queries."""

import os
import statistics
import time
from collections import Counter
from contextlib import contextmanager

from django.test import override_settings

from bench.measure import by_verb, queries
from bench.replay import Replay
from provisioning import engine, scanlists
from provisioning.models import Run
from provisioning.runs import run_request
from tenants.models import Tenant

# The steps whose outside systems the test servers record call by call (Kubernetes, Authentik),
# so a baseline can make exactly the same calls; MariaDB and S3 would need a replay of their own.
STEPS = [
    "provisioning.steps.namespace.NamespaceStep",
    "provisioning.steps.network.NetworkStep",
    "provisioning.steps.sso.SsoStep",
    "provisioning.steps.wordpress.WordPressStep",
]


@contextmanager
def platform(tmp_dir, latency: float):
    """The fake Kubernetes API and Authentik on loopback, each answering after `latency`."""
    from tests.fakes.authentik import FakeAuthentik
    from tests.fakes.kube import FakeKube

    tmp_dir.mkdir(parents=True, exist_ok=True)
    kube = FakeKube().start(kubeconfig_dir=tmp_dir)
    authentik = FakeAuthentik().start()
    kube.latency = authentik.latency = latency
    try:
        with override_settings(
            PORTAL_STEPS=STEPS,
            PORTAL_KUBECONFIG=str(kube.kubeconfig_path),
            PORTAL_KUBE_CONTEXT="",
            PORTAL_KUBE_TIMEOUT=10.0,
            PORTAL_AUTHENTIK_URL=authentik.url,
            PORTAL_AUTHENTIK_TOKEN=authentik.token,
            PORTAL_PLAN_DIR=tmp_dir / "plan",
            PORTAL_RETRY_BASE_DELAY=0.0,
        ):
            yield kube, authentik
    finally:
        kube.stop()
        authentik.stop()


def provision(
    tenant: Tenant, kube, marks: list[int] | None = None, rounds: int = 20, ran: list | None = None
) -> float:
    """Drive one approved tenant to ready as a worker would, the cluster catching up between
    rounds (`marks` gets the Kubernetes call index of each catch-up, for the replay). `ran`
    gets the portal's queries: the request's and the engine's, not the bench's own (its
    stand-in for the wait passing, the read of the outcome). Returns the seconds the request
    and the passes took, without the bench's own work between them."""
    counted = ran if ran is not None else []
    start = time.perf_counter()
    with queries() as asked:
        run_request(tenant=tenant, action=Run.Action.APPLY, reason="approved")
    spent = time.perf_counter() - start
    counted += asked
    for _ in range(rounds):
        start = time.perf_counter()
        with queries() as passed:
            left = engine.reconcile(tenant.pk)
        spent += time.perf_counter() - start
        counted += passed
        if left is None:
            break
        if marks is not None:
            marks.append(len(kube.calls or ()))
        kube.mark_ready()
        Run.objects.filter(tenant=tenant).update(not_before=None)  # the wait has passed
    tenant.refresh_from_db()
    if tenant.state != Tenant.State.READY:
        raise RuntimeError(f"bench tenant {tenant.slug} ended {tenant.state}: {tenant.last_error}")
    return spent


def tenant_row(owner, plan, slug: str, state=Tenant.State.APPROVED) -> Tenant:
    """An unsaved tenant as a request makes one."""
    return Tenant(
        slug=slug,
        display_name=f"Bench {slug}",
        plan=plan,
        wordpress_version="6.8",
        admin_email="owner@example.com",
        host=f"wordpress-{slug}.local",
        owner=owner,
        state=state,
    )


def new_tenant(owner, plan, slug: str) -> Tenant:
    tenant = tenant_row(owner, plan, slug)
    tenant.save()
    return tenant


def bench_engine(tmp_dir, owner, plan, tenants: int, latency: float, prefix="bench") -> dict:
    """N new tenants through the engine, one after another, each followed at once by a replay
    of its calls (after a warm-up tenant of each): the figure is the median of the tenants'
    time ratios, so a load the other sessions put on the shared cores lands on both alike."""
    replay = Replay(tmp_dir / "replay", latency)
    try:
        with platform(tmp_dir / "engine", latency) as (kube, authentik):
            kube.calls, authentik.calls = [], []
            made = [new_tenant(owner, plan, f"{prefix}warm")]
            _round(made[0], kube, authentik, replay)  # imports, connections, platform values
            load = os.getloadavg()[0]
            first_kube, first_authentik = len(kube.requests), len(authentik.requests)
            rounds = []
            for i in range(tenants):
                made.append(new_tenant(owner, plan, f"{prefix}{i:04d}"))
                rounds.append(_round(made[-1], kube, authentik, replay))
            kube_requests = kube.requests[first_kube:]
            authentik_requests = authentik.requests[first_authentik:]
            objects = {w.path.split("?")[0] for w in kube.writes if prefix + "warm" not in w.path}
            drift = drift_scan(made[1:], kube, authentik)
    finally:
        replay.close()
    verbs = by_verb(kube_requests)
    secret_patches = sum(1 for m, p in kube_requests if m == "PATCH" and "/secrets/" in p)
    n = tenants
    engine_seconds = sum(r["engine"] for r in rounds)
    baseline = sum(r["replay"] for r in rounds)
    ratios = [r["engine"] / r["replay"] for r in rounds]
    replayed = {s: sum(r["calls"][s] for r in rounds) / n for s in ("kubernetes", "authentik")}
    return {
        "tenants": n,
        "engine_seconds": round(engine_seconds, 3),
        "baseline_seconds": round(baseline, 3),
        "engine_overhead_ratio": round(statistics.median(ratios), 2),
        "ratio_of_sums": round(engine_seconds / baseline, 2),
        "ratio_range": [round(min(ratios), 2), round(max(ratios), 2)],
        "load_average": [round(load, 2), round(os.getloadavg()[0], 2)],
        "replayed_calls_per_tenant": {s: round(c, 1) for s, c in replayed.items()},
        "kube_requests_per_tenant": round(len(kube_requests) / n, 1),
        "kube_requests_per_tenant_by_verb": {v: round(c / n, 1) for v, c in verbs.items()},
        "kube_objects_applied_per_tenant": round(len(objects) / n, 1),
        "kube_requests_per_object": round(len(kube_requests) / max(len(objects), 1), 2),
        "authentik_requests_per_tenant": round(len(authentik_requests) / n, 1),
        "authentik_requests_per_tenant_by_verb": {
            v: round(c / n, 1) for v, c in sorted(Counter(m for m, _ in authentik_requests).items())
        },
        "secret_patches_per_tenant": round(secret_patches / n, 1),
        "portal_queries_per_provisioning": round(statistics.mean(r["queries"] for r in rounds), 1),
        "drift_scan": drift,
    }


def _round(tenant: Tenant, kube, authentik, replay: Replay) -> dict:
    """One tenant through the engine, then the same calls by the replay, each timed."""
    first_kube, first_authentik, marks, ran = len(kube.calls), len(authentik.calls), [], []
    seconds = provision(tenant, kube, marks, ran=ran)
    kube_calls, authentik_calls = kube.calls[first_kube:], authentik.calls[first_authentik:]
    marks = [m - first_kube for m in marks]
    return {
        "engine": seconds,
        "replay": replay.run(kube_calls, authentik_calls, marks),
        "calls": {"kubernetes": len(kube_calls), "authentik": len(authentik_calls)},
        "queries": len(ran),
    }


PLATFORM_PATHS = ("/api/v3/flows/", "/api/v3/propertymappings/", "/api/v3/crypto/")


def drift_scan(tenants: list[Tenant], kube, authentik) -> dict:
    """A drift check of every ready tenant, as the periodic sweep queues them: the requests of
    the whole scan, by verb, and Authentik's lookups of the platform's values."""
    scanlists.forget()  # a cold scan: every kind listed once
    first_kube, first_authentik = len(kube.requests), len(authentik.requests)
    for tenant in tenants:  # queued at once, as the sweep does, then run one by one
        run_request(tenant=tenant, action=Run.Action.CHECK, reason="drift")
    for tenant in tenants:
        for _ in range(5):
            if engine.reconcile(tenant.pk) is None:
                break
            Run.objects.filter(tenant=tenant).update(not_before=None)
    kube_requests = kube.requests[first_kube:]
    lookups = [p for m, p in authentik.requests[first_authentik:] if p.startswith(PLATFORM_PATHS)]
    n, verbs = max(len(tenants), 1), by_verb(kube_requests)
    secret_gets = sum(1 for m, p in kube_requests if m == "GET" and "/secrets/" in p)
    return {
        "tenants": len(tenants),
        "kube_requests_by_verb": verbs,
        "kube_secret_gets_per_tenant": round(secret_gets / n, 1),
        "kube_gets_per_tenant": round((verbs.get("GET", 0) - secret_gets) / n, 1),
        "authentik_platform_lookups": len(lookups),
    }
