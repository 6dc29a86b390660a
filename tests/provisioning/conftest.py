"""Fixtures for the engine's worker tests: the probe step and real Celery worker processes."""

import json
import uuid

import pytest

from tenants import services
from tenants.models import Tenant
from tests import services as svc
from tests.factories import TenantFactory
from tests.provisioning.cluster import S3_ADMIN
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
            # Under the lease, or the worker refuses to start (provisioning.leaserule): the
            # probe's steps take milliseconds, unless a test holds one (and says its limit).
            "PORTAL_TASK_TIME_LIMIT": "3",
            "PORTAL_TASK_SOFT_TIME_LIMIT": "2",
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
    start.full_logs = lambda: "\n".join(w.log() for w in started)
    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def platform(tmp_path, kube_api, authentik_api, moto_url):
    """Everything real or a stand-in over HTTP; the worker gets it all through its environment."""
    svc.require("Redis", svc.REDIS)
    svc.require("MariaDB", svc.MARIADB)
    env = {
        "PORTAL_KUBECONFIG": str(kube_api.kubeconfig_path),
        # Long enough that a held request is still in flight when the worker is killed.
        "PORTAL_KUBE_TIMEOUT": "60",
        "PORTAL_MARIADB_URL": svc.MARIADB_URL,
        "PORTAL_MARIADB_USER_HOST": "%",
        "PORTAL_S3_ENDPOINT_URL": moto_url,
        "PORTAL_S3_REGION": "eu-central-1",
        "PORTAL_S3_ACCESS_KEY_ID": S3_ADMIN["aws_access_key_id"],
        "PORTAL_S3_SECRET_ACCESS_KEY": S3_ADMIN["aws_secret_access_key"],
        "PORTAL_S3_BUCKET": f"media-{uuid.uuid4().hex[:10]}",
        "PORTAL_AUTHENTIK_URL": authentik_api.url,
        "PORTAL_AUTHENTIK_TOKEN": authentik_api.token,
        "PORTAL_PLAN_DIR": str(tmp_path / "plan"),
        "PORTAL_BROKER_VISIBILITY_TIMEOUT": "4",
        "PORTAL_BROKER_RESTORE_INTERVAL": "1",
        # Longer than the hard limit, or the worker refuses to start (provisioning.leaserule);
        # the limit leaves a step room for the stand-ins' delays and a brownout's retries.
        "PORTAL_TENANT_LOCK_TTL": "31",
        "PORTAL_TASK_TIME_LIMIT": "30",
        "PORTAL_TASK_SOFT_TIME_LIMIT": "25",
        "PORTAL_RETRY_BASE_DELAY": "0.2",
        "PORTAL_WAIT_INTERVAL": "1",
    }
    started: list[Worker] = []

    def start(name: str, beat: bool = False, concurrency: int = 1, **extra: str) -> Worker:
        log = tmp_path / f"{name}-{len(started)}.log"
        worker = Worker(worker_env({**env, **extra}), log, name, beat=beat, concurrency=concurrency)
        started.append(worker)
        return worker

    start.env = env
    start.logs = lambda: "\n".join(f"--- {w.name}\n{w.log()[-4000:]}" for w in started)
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
