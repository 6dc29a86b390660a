"""The OpenAPI schema: generated, valid, and every operation in it answers as it says."""

import json
import re

import pytest
from django.urls import reverse
from django.utils import timezone
from openapi_schema_validator import OAS30Validator
from openapi_spec_validator import validate

from api.webhooks.services import endpoint_create
from provisioning.models import Run, StepRun
from tenants.audit import audit_record
from tests.factories import TenantFactory, run_ended_by_outage


@pytest.fixture
def schema(client, approver):
    client.force_login(approver)
    response = client.get(reverse("api:schema"), {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_the_schema_is_valid_openapi_3(schema):
    validate(schema)
    assert schema["openapi"].startswith("3.")
    assert "apiToken" in schema["components"]["securitySchemes"]


def test_the_docs_page_is_served_without_a_cdn(client, approver):
    client.force_login(approver)
    response = client.get(reverse("api:docs"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "swagger-ui" in page
    assert not re.search(r"(src|href)=\"https?://", page), "assets come from the portal itself"


def _bodies(tenant):
    return {
        ("post", "/api/v1/tenants/"): {
            "slug": "fromschema",
            "display_name": "From the schema",
            "plan": "small",
            "wordpress_version": "6.8",
            "admin_email": "me@example.com",
        },
        ("post", "/api/v1/tenants/{id}/decide/"): {"decision": "reject", "reason": "Not now."},
        ("post", "/api/v1/webhooks/"): {
            "url": "https://hooks.example.org/",
            "events": ["tenant.ready"],
        },
    }


def test_every_operation_answers_as_the_schema_says(schema, api_for, requester, approver):
    tenant = TenantFactory(owner=requester)
    run = Run.objects.create(tenant=tenant, action=Run.Action.APPLY, reason="approved")
    StepRun.objects.create(run=run, name="namespace", position=0)
    event = audit_record(action="tenant.requested", obj=tenant)
    hook, _ = endpoint_create(actor=approver, url="https://a.example/", events=["tenant.ready"])
    ids = {"/api/v1/runs/": run.pk, "/api/v1/audit-events/": event.pk, "/api/v1/plans/": "small",
           "/api/v1/webhooks/": hook.pk}  # fmt: skip
    client = api_for(approver)
    bodies = _bodies(tenant)
    answered = []

    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            value = next((v for k, v in ids.items() if path.startswith(k)), tenant.pk)
            url = re.sub(r"\{\w+\}", str(value), path)
            headers = {}
            if method == "delete":
                # Tenants want their ETag; a webhook endpoint is simply removed.
                headers["HTTP_IF_MATCH"] = client.get(url).get("ETag", "*")
            response = client.generic(
                method.upper(),
                url,
                _json(bodies.get((method, path), {})),
                content_type="application/json",
                **headers,
            )
            assert response.status_code < 500, (method, path)
            code = str(response.status_code)
            assert code in operation["responses"], (method, path, code, response.content)
            content = operation["responses"][code].get("content", {}).get("application/json")
            if content:
                _check(response.json(), content["schema"], schema)
            answered.append((method, path, response.status_code))

    # Each kind of operation ran, and some of them changed something.
    assert len(answered) == sum(len(ops) for ops in schema["paths"].values()) >= 17
    assert ("post", "/api/v1/tenants/", 201) in answered


def test_a_tenants_health_and_wait_answer_as_the_schema_says(schema, api_for, requester):
    from tests.api.test_api_health import degraded_tenant

    held = TenantFactory(owner=requester, state="provisioning")
    run_ended_by_outage(held, since=timezone.now(), minutes_ago=1)
    client = api_for(requester)
    detail = schema["paths"]["/api/v1/tenants/{id}/"]["get"]["responses"]["200"]
    body_schema = detail["content"]["application/json"]["schema"]
    for tenant in (held, degraded_tenant(requester)):
        body = client.get(f"/api/v1/tenants/{tenant.pk}/").json()
        assert body["waiting"] or body["health"]
        _check(body, body_schema, schema)


def _check(instance, subschema: dict, root: dict) -> None:
    validator = OAS30Validator({**subschema, "components": root["components"]})
    errors = list(validator.iter_errors(instance))
    assert not errors, [(list(e.absolute_path), e.message) for e in errors]


def _json(data) -> str:
    return json.dumps(data)
