"""A request's id follows it into the worker: its log lines and the audit events it writes."""

import json

import pytest
from django.urls import reverse

from tenants.models import AuditEvent, Tenant
from tests.factories import TenantFactory
from tests.provisioning.conftest import wait_state
from tests.workers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_request_id_of_an_approval_reaches_the_worker(client_for, approver, workers):
    worker = workers("w1", PORTAL_LOG_LEVEL="DEBUG")
    tenant = TenantFactory(state=Tenant.State.REQUESTED)
    response = client_for(approver).post(
        reverse("tenants:approval", args=[tenant.pk]),
        {"decision": "approve"},
        HTTP_X_REQUEST_ID="approval-from-ci-42",
    )
    assert response.status_code == 302
    wait_state(tenant, {Tenant.State.READY}, workers)

    ready = AuditEvent.objects.get(action="tenant.ready", object_id=str(tenant.pk))
    assert ready.request_id == "approval-from-ci-42"
    assert ready.actor_name == "system"  # the worker acted, for the approval it was asked for

    def ours() -> list[dict]:
        lines = [json.loads(line) for line in worker.log().splitlines() if line.startswith("{")]
        return [line for line in lines if line.get("request_id") == "approval-from-ci-42"]

    # Celery logs the task's end just after the task has made the tenant ready.
    lines = wait_until(
        lambda: [ln for ln in ours() if ln["logger"] == "celery.app.trace"] and ours(),
        10,
        "the task's end in the worker log",
        workers.logs,
    )
    steps = [ln for ln in lines if ln["logger"] == "provisioning.engine"]
    assert steps and all(ln["tenant"] == tenant.slug and ln["run_id"] for ln in steps)
    assert all(line["user"] == approver.username for line in lines)
