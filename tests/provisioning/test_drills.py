"""Failure drills, short forms: tenants provisioned while the platform breaks under them, then
every tenant ready (or failed with a message), nothing made twice, nothing left after delete.
Each prints what it did and what it checked (pytest -rP); bench/ holds the long forms."""

import os
import random
import time
from contextlib import contextmanager

import pytest

from portal.celery import app
from provisioning.models import StepRun
from tests import services as svc
from tests.provisioning.drills import (
    PRODUCTION,
    SETTLED,
    TIMEOUT,
    approve,
    check_no_duplicates,
    check_outcome,
    delete_all_and_check_no_orphans,
    report,
    retry_failed,
    wait_all,
)
from tests.provisioning.servers import OwnMariaDB, OwnRedis
from tests.workers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Short forms here; `python -m bench.drills` runs the long ones through these variables: more
# tenants, and the production defaults of every clock instead of the test clocks of the
# platform fixture (leases of 31 s, broker visibility of 4 s), so recovery is reported as it would
# be in production (beat's sweep every minute, a dead worker's lease 6 minutes).
TENANTS = int(os.environ.get("PORTAL_DRILL_TENANTS", "2"))
CLOCKS = (
    {
        "PORTAL_BROKER_VISIBILITY_TIMEOUT": "600", "PORTAL_BROKER_RESTORE_INTERVAL": "10",
        "PORTAL_TENANT_LOCK_TTL": "360", "PORTAL_TASK_TIME_LIMIT": "300",
        "PORTAL_TASK_SOFT_TIME_LIMIT": "240",
        "PORTAL_RETRY_BASE_DELAY": "2",
        "PORTAL_WAIT_INTERVAL": "10", "PORTAL_SWEEP_INTERVAL": "60",
    }
    if PRODUCTION
    else {"PORTAL_SWEEP_INTERVAL": "3"}
)  # fmt: skip


def start(platform, name: str, **extra: str):
    """A worker (or beat) on the drill's clocks."""
    return platform(name, **{**CLOCKS, **extra})


@contextmanager
def broker(url: str):
    """This process's Celery app sends to `url` (the drill's own Redis) inside the block."""
    saved = app.conf.broker_url

    def switch(to: str) -> None:
        # Sending uses broker_write_url, which Celery fixed from broker_url when configured.
        app.conf.broker_url = app.conf.broker_write_url = app.conf.broker_read_url = to
        app._pool = None  # the pools are per connection: the next send opens the new one
        app.amqp._producer_pool = None

    switch(url)
    try:
        yield
    finally:
        switch(saved)


def test_drill_kube_api_failing_a_fifth_of_requests(
    requester, approver, platform, kube_api, authentik_api
):
    chaos = kube_api.unreliable(0.2, seed=17, delay=1.5)
    start(platform, "w1"), start(platform, "w2")
    tenants = approve(requester, approver, "chaos", TENANTS)
    report("kube-faults", f"did: {TENANTS} tenants approved, the Kubernetes API failing 20 %")
    seconds = wait_all(tenants, SETTLED, platform, kube_api, timeout=TIMEOUT)
    report(
        "kube-faults",
        f"did: {sum(chaos.injected.values())} of {len(kube_api.requests)} requests answered "
        f"500/429/late ({dict(chaos.injected)}); all settled in {seconds:.1f}s",
    )
    assert sum(chaos.injected.values()) > 0
    check_outcome("kube-faults", tenants)
    kube_api.unreliable(0)
    retry_failed("kube-faults", tenants, approver, platform, kube_api)
    check_no_duplicates("kube-faults", tenants, platform, kube_api, authentik_api, svc.MARIADB_URL)
    delete_all_and_check_no_orphans(
        "kube-faults", tenants, requester, platform, kube_api, authentik_api, svc.MARIADB_URL
    )


def test_drill_workers_killed_at_random(requester, approver, platform, kube_api, authentik_api):
    rng = random.Random(23)
    start(platform, "beat", beat=True)  # as in production: its sweep re-sends lost messages
    alive = [start(platform, "w1"), start(platform, "w2")]
    tenants = approve(requester, approver, "kill", TENANTS)
    kills, next_kill, last_kill = 0, time.monotonic() + rng.uniform(1, 3), time.monotonic()

    def kill_now_and_then():
        nonlocal kills, next_kill, last_kill
        if kills < 3 and time.monotonic() >= next_kill:
            victim = alive.pop(rng.randrange(len(alive)))
            victim.kill()
            alive.append(start(platform, f"w{kills + 3}"))
            kills, last_kill = kills + 1, time.monotonic()
            next_kill = last_kill + rng.uniform(1, 3)

    wait_all(tenants, SETTLED, platform, kube_api, timeout=TIMEOUT, during=kill_now_and_then)
    recovered = time.monotonic() - last_kill
    report(
        "worker-kill",
        f"did: {kills} workers SIGKILLed at random during {TENANTS} provisionings, each replaced",
    )
    report("worker-kill", f"checked: all settled {recovered:.1f}s after the last kill")
    check_outcome("worker-kill", tenants)
    check_no_duplicates("worker-kill", tenants, platform, kube_api, authentik_api, svc.MARIADB_URL)
    delete_all_and_check_no_orphans(
        "worker-kill", tenants, requester, platform, kube_api, authentik_api, svc.MARIADB_URL
    )


def test_drill_redis_restarted_mid_run(
    requester, approver, platform, kube_api, authentik_api, tmp_path
):
    own = OwnRedis(tmp_path, "redis")
    own.start()
    try:
        with broker(own.url):
            # Beat's sweep picks up runs whose messages the crash lost.
            start(platform, "beat", beat=True, CELERY_BROKER_URL=own.url)
            start(platform, "w1", CELERY_BROKER_URL=own.url)
            start(platform, "w2", CELERY_BROKER_URL=own.url)
            kube_api.delay("PATCH", r"/deployments/wordpress$", seconds=2, times=TENANTS)
            tenants = approve(requester, approver, "redis", TENANTS)

            def deployment_applied():
                return any(p.endswith("/deployments/wordpress") for _, p in list(kube_api.requests))

            wait_until(deployment_applied, 90, "a Deployment apply", platform.logs)
            own.kill()
            time.sleep(1)
            own.start()
            restarted = time.monotonic()
            report("redis-restart", f"did: the broker SIGKILLed and started again mid-run "
                   f"({TENANTS} tenants)")  # fmt: skip
            wait_all(tenants, SETTLED, platform, kube_api, timeout=TIMEOUT)
            report("redis-restart", f"checked: settled {time.monotonic() - restarted:.1f}s after")
            check_outcome("redis-restart", tenants)
            check_no_duplicates(
                "redis-restart", tenants, platform, kube_api, authentik_api, svc.MARIADB_URL
            )
            delete_all_and_check_no_orphans(
                "redis-restart", tenants, requester, platform, kube_api, authentik_api,
                svc.MARIADB_URL,
            )  # fmt: skip
    finally:
        own.stop()


def test_drill_mariadb_restarted_mid_run(
    requester, approver, platform, kube_api, authentik_api, tmp_path
):
    own = OwnMariaDB(tmp_path)
    own.start()
    try:
        start(platform, "w1", PORTAL_MARIADB_URL=own.url)
        start(platform, "w2", PORTAL_MARIADB_URL=own.url)
        own.kill()
        tenants = approve(requester, approver, "maria", TENANTS)
        # Down when the database steps run: they fail and are retried until it is back.
        wait_until(
            lambda: StepRun.objects.filter(
                run__tenant__in=tenants, name="database", attempts__gte=2
            ).count() == TENANTS,
            90, "every database step to have failed once", platform.logs,
        )  # fmt: skip
        report("mariadb-restart", f"did: MariaDB SIGKILLed; {TENANTS} database steps failed")
        own.start()
        restarted = time.monotonic()
        report("mariadb-restart", "did: MariaDB started again on the same data")
        wait_all(tenants, SETTLED, platform, kube_api, timeout=TIMEOUT)
        report("mariadb-restart", f"checked: settled {time.monotonic() - restarted:.1f}s after")
        check_outcome("mariadb-restart", tenants)
        check_no_duplicates("mariadb-restart", tenants, platform, kube_api, authentik_api, own.url)
        delete_all_and_check_no_orphans(
            "mariadb-restart", tenants, requester, platform, kube_api, authentik_api, own.url
        )
    finally:
        own.stop()
