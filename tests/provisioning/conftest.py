"""Fixtures for the engine's worker tests: the probe step and real Celery worker processes."""

import json

import pytest

from tenants import services
from tenants.models import Tenant
from tests import services as svc
from tests.factories import TenantFactory
from tests.workers import Worker, wait_until, worker_env

STEPS = [
    "provisioning.steps.namespace.NamespaceStep",
    "provisioning.steps.network.NetworkStep",
    "provisioning.steps.database.DatabaseStep",
    "tests.provisioning.probe.ProbeStep",
    "provisioning.steps.sso.SsoStep",
    "provisioning.steps.storage.StorageStep",
    "provisioning.steps.wordpress.WordPressStep",
]


@pytest.fixture
def probe(tmp_path, monkeypatch, settings):
    """The probe's folder, shared by the test and its workers; steered by control.json."""
    folder = tmp_path / "probe"
    folder.mkdir()
    monkeypatch.setenv("PORTAL_PROBE_DIR", str(folder))
    settings.PORTAL_STEPS = STEPS

    def control(**values):
        (folder / "control.json").write_text(json.dumps(values))

    control.folder = folder
    return control


@pytest.fixture
def workers(tmp_path, probe):
    """Start real worker processes (keyword arguments add to their environment); each is
    stopped (or was killed) when the test ends."""
    svc.require("Redis", svc.REDIS)
    started: list[Worker] = []
    env = worker_env(
        {
            "PORTAL_STEPS": ",".join(STEPS),
            "PORTAL_PLAN_DIR": str(tmp_path / "plan"),
            "PORTAL_PROBE_DIR": str(probe.folder),
            # Short clocks so a dead worker's message and lease come back within seconds.
            "PORTAL_BROKER_VISIBILITY_TIMEOUT": "4",
            "PORTAL_BROKER_RESTORE_INTERVAL": "1",
            "PORTAL_TENANT_LOCK_TTL": "4",
            "PORTAL_RETRY_BASE_DELAY": "0.2",
            "PORTAL_WAIT_INTERVAL": "1",
            "PORTAL_STEP_MAX_RETRIES": "5",
        }
    )

    def start(name: str = "w1", **extra: str) -> Worker:
        worker = Worker({**env, **extra}, tmp_path / f"{name}-{len(started)}.log", name)
        started.append(worker)
        return worker

    start.logs = lambda: "\n".join(f"--- {w.name}\n{w.log()[-3000:]}" for w in started)
    yield start
    for worker in started:
        worker.stop()


def approved_tenant(requester, approver) -> Tenant:
    tenant = TenantFactory(owner=requester)
    services.tenant_approve(tenant_id=tenant.pk, actor=approver)  # queues on commit
    return tenant


def wait_state(tenant: Tenant, states: set[str], workers, timeout: float = 60) -> Tenant:
    def reached():
        tenant.refresh_from_db()
        return tenant.state in states

    wait_until(reached, timeout, f"tenant in {states}", workers.logs)
    return tenant
