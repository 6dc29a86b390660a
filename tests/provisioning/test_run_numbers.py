"""A run has one number wherever it is named: the tenant's history, its page and the API."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from api.tokens import token_create
from bench.engine import new_tenant, platform
from provisioning import engine
from provisioning.models import Run
from provisioning.runs import run_request
from tenants.models import AuditEvent
from tests.factories import TenantFactory, UserFactory, plan

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_history_names_the_run_by_the_number_the_page_shows(tmp_path, client):
    TenantFactory(slug="before")  # other tenants' runs take ids, not this tenant's numbers
    for _ in range(2):
        run_request(tenant=TenantFactory(), action=Run.Action.APPLY, reason="approved")
    owner = UserFactory(role="requester")
    tenant = new_tenant(owner, plan("small"), "numbered")
    run = run_request(tenant=tenant, action=Run.Action.APPLY, reason="approved")
    assert run.number == 1 and run.pk > 1
    with platform(tmp_path, latency=0.0) as (kube, _authentik):
        for _ in range(5):
            if engine.reconcile(tenant.pk) is None:
                break
            kube.mark_ready()
            Run.objects.filter(tenant=tenant).update(not_before=None)
    messages = set(
        AuditEvent.objects.filter(object_type="tenant", object_id=str(tenant.pk)).values_list(
            "message", flat=True
        )
    )
    assert {"Run #1 started (approved).", "Run #1 finished."} <= messages
    client.force_login(owner)
    assert "Provision run #1 (approved" in client.get(tenant.get_absolute_url()).content.decode()
    _, token = token_create(user=owner, name="numbers", days=1)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    listed = api.get(reverse("api:run-list"), {"tenant": tenant.pk}).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert [(r["id"], r["number"]) for r in rows if r["tenant"] == tenant.pk] == [(run.pk, 1)]
