"""The engine's cost per new tenant: time against a bare replay of its outside calls, the
Kubernetes and Authentik requests it makes and its portal-database queries."""

import time
from collections import Counter
from contextlib import contextmanager

import urllib3
from django.test import override_settings

from bench.measure import by_verb, queries
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
) -> None:
    """Drive one approved tenant to ready as a worker would, the cluster catching up between
    rounds (`marks` gets the Kubernetes call index of each catch-up, for the replay). `ran`
    gets the portal's queries: the request's and the engine's, not the bench's own (its
    stand-in for the wait passing, the read of the outcome)."""
    counted = ran if ran is not None else []
    with queries() as asked:
        run_request(tenant=tenant, action=Run.Action.APPLY, reason="approved")
    counted += asked
    for _ in range(rounds):
        with queries() as passed:
            left = engine.reconcile(tenant.pk)
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


def replay(tmp_dir, latency: float, kube_calls, authentik_calls, marks) -> float:
    """Seconds a bare script takes to make the same calls, in order, to fresh test servers:
    the floor the engine's time is compared with."""
    from tests.fakes.authentik import FakeAuthentik
    from tests.fakes.kube import FakeKube

    (tmp_dir / "replay").mkdir(parents=True, exist_ok=True)
    kube = FakeKube().start(kubeconfig_dir=tmp_dir / "replay")
    authentik = FakeAuthentik().start()
    kube.latency = authentik.latency = latency
    pool = urllib3.PoolManager(retries=False)
    auth = {"Authorization": f"Bearer {authentik.token}"}
    kube_auth = {"Authorization": "Bearer fake-token"}
    marks = set(marks)
    try:
        start = time.perf_counter()
        for i, (method, path, kind, body) in enumerate(kube_calls):
            if i in marks:
                kube.mark_ready()
            headers = {**kube_auth, **({"Content-Type": kind} if kind else {})}
            pool.request(method, kube.url + path, body=body or None, headers=headers)
        for method, path, body in authentik_calls:
            headers = {**auth, **({"Content-Type": "application/json"} if body else {})}
            pool.request(method, authentik.url + path, body=body or None, headers=headers)
        return time.perf_counter() - start
    finally:
        kube.stop()
        authentik.stop()


def bench_engine(tmp_dir, owner, plan, tenants: int, latency: float, prefix="bench") -> dict:
    """N new tenants through the engine, one after another, against the replay of their calls."""
    per_tenant_queries, made = [], []
    with platform(tmp_dir / "engine", latency) as (kube, authentik):
        kube.calls, authentik.calls, marks = [], [], []
        first_kube, first_authentik = len(kube.requests), len(authentik.requests)
        start = time.perf_counter()
        for i in range(tenants):
            tenant = new_tenant(owner, plan, f"{prefix}{i:04d}")
            made.append(tenant)
            ran: list = []
            provision(tenant, kube, marks, ran=ran)
            per_tenant_queries.append(len(ran))
        engine_seconds = time.perf_counter() - start
        kube_requests = kube.requests[first_kube:]
        authentik_requests = authentik.requests[first_authentik:]
        kube_calls, authentik_calls = list(kube.calls), list(authentik.calls)
        objects = {w.path.split("?")[0] for w in kube.writes}
        drift = drift_scan(made, kube, authentik)
    baseline = replay(tmp_dir, latency, kube_calls, authentik_calls, marks)
    verbs = by_verb(kube_requests)
    secret_patches = sum(1 for m, p in kube_requests if m == "PATCH" and "/secrets/" in p)
    n = tenants
    return {
        "engine_seconds": round(engine_seconds, 3),
        "baseline_seconds": round(baseline, 3),
        "engine_overhead_ratio": round(engine_seconds / baseline, 2),
        "kube_requests_per_tenant": round(len(kube_requests) / n, 1),
        "kube_requests_per_tenant_by_verb": {v: round(c / n, 1) for v, c in verbs.items()},
        "kube_objects_applied_per_tenant": round(len(objects) / n, 1),
        "kube_requests_per_object": round(len(kube_requests) / max(len(objects), 1), 2),
        "authentik_requests_per_tenant": round(len(authentik_requests) / n, 1),
        "authentik_requests_per_tenant_by_verb": {
            v: round(c / n, 1) for v, c in sorted(Counter(m for m, _ in authentik_requests).items())
        },
        "secret_patches_per_tenant": round(secret_patches / n, 1),
        "portal_queries_per_provisioning": round(sum(per_tenant_queries) / n, 1),
        "drift_scan": drift,
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
