"""The list endpoints' filters: an unknown value is a 400 naming the parameter and what it
takes, never an empty list that reads as "you have no tenants"; the schema lists the choices."""

import pytest
from django.urls import reverse

from provisioning.models import Run
from tenants.models import AuditEvent, Tenant
from tests.factories import TenantFactory

REFUSED = [
    # (path, query, parameter, part of the sentence: the value and what is allowed)
    ("/api/v1/tenants/", "state=bogus", "state", "Unknown state “bogus”; use one of: requested,"),
    ("/api/v1/tenants/", "state=bogus", "state", "deleted, withdrawn."),
    ("/api/v1/tenants/", "plan=huge", "plan", "Unknown plan “huge”; use one of: small,"),
    ("/api/v1/tenants/", "sort=size", "sort", "Unknown sort “size”; use one of: name, -name,"),
    ("/api/v1/tenants/", "page_size=ten", "page_size", "page_size “ten” is not a whole number"),
    ("/api/v1/tenants/", "page_size=0", "page_size", "of 1 or more."),
    ("/api/v1/runs/", "status=broken", "status", "Unknown status “broken”; use one of: pending,"),
    ("/api/v1/runs/", "page_size=-1", "page_size", "page_size “-1” is not a whole number"),
    ("/api/v1/audit-events/", "action=tenant.exploded", "action", "use one of: tenant.requested,"),
    ("/api/v1/tenants/{id}/runs/", "page_size=1.5", "page_size", "“1.5” is not a whole number"),
]


@pytest.mark.parametrize(("path", "query", "name", "sentence"), REFUSED)
def test_an_unknown_value_is_refused_naming_the_parameter(
    api_for, approver, path, query, name, sentence
):
    tenant = TenantFactory(state="ready")
    Run.objects.create(tenant=tenant, action=Run.Action.APPLY, reason="approved")

    response = api_for(approver).get(f"{path.format(id=tenant.pk)}?{query}")

    assert response.status_code == 400, response.content
    body = response.json()
    assert sentence in body["detail"]
    assert list(body["errors"]) == [name] and sentence in body["errors"][name][0]


def test_a_refusal_does_not_echo_a_whole_novel(api_for, approver):
    response = api_for(approver).get("/api/v1/tenants/", {"state": "x" * 5000})
    assert response.status_code == 400
    assert len(response.json()["detail"]) < 300


def test_known_values_still_filter_and_blank_ones_do_not(api_for, requester, approver):
    TenantFactory(slug="live", owner=requester, state="ready")
    TenantFactory(slug="taken-back", owner=requester, state="deleted")  # withdrawn, never decided
    client = api_for(approver)

    def slugs(query):
        response = client.get(f"/api/v1/tenants/?{query}")
        assert response.status_code == 200, response.content
        return sorted(t["slug"] for t in response.json()["results"])

    assert slugs("state=withdrawn") == ["taken-back"]
    assert slugs("state=ready&plan=small&sort=-name&page_size=500") == ["live"]
    assert slugs("state=&plan=&sort=&page_size=") == ["live", "taken-back"]
    assert slugs("state=%00ready") == ["live"]  # a NUL is dropped, as the pages do
    # A parameter the list does not have is ignored, as before.
    assert slugs("colour=blue") == ["live", "taken-back"]
    events = client.get("/api/v1/audit-events/?action=tenant.requested&object_type=tenant")
    assert events.status_code == 200
    assert client.get("/api/v1/runs/?status=failed").json()["results"] == []


def test_the_schema_lists_every_choice(client, approver):
    client.force_login(approver)
    paths = client.get(reverse("api:schema"), {"format": "json"}).json()["paths"]

    def enum(path, name):
        (parameter,) = [p for p in paths[path]["get"]["parameters"] if p["name"] == name]
        return parameter["schema"].get("enum")

    assert set(enum("/api/v1/tenants/", "state")) == {*Tenant.State.values, "withdrawn", ""}
    assert "-owner" in enum("/api/v1/tenants/", "sort")
    assert set(enum("/api/v1/runs/", "status")) == {*Run.Status.values, ""}
    assert set(enum("/api/v1/audit-events/", "action")) == {*AuditEvent.Action.values, ""}
    (size,) = [p for p in paths["/api/v1/runs/"]["get"]["parameters"] if p["name"] == "page_size"]
    assert size["schema"] == {"type": "integer", "minimum": 1}
    assert "400" in paths["/api/v1/tenants/"]["get"]["responses"]
