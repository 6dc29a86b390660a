"""/api/v1/webhooks/: who may register, read and remove endpoints; the secret only once."""

import pytest
from rest_framework.test import APIClient

from api.models import WebhookEndpoint
from api.webhooks.services import endpoint_create
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/webhooks/"


@pytest.fixture
def api_as():
    def make(user):
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


def _body(tenant=None, **extra):
    return {"url": "https://hooks.example.org/x", "events": ["tenant.ready"],
            "tenant": tenant.pk if tenant else None, **extra}  # fmt: skip


def test_an_owner_registers_for_their_tenant_and_sees_the_secret_once(api_as, requester):
    tenant = TenantFactory(owner=requester)
    client = api_as(requester)
    response = client.post(URL, _body(tenant), format="json")
    assert response.status_code == 201, response.json()
    secret = response.json()["secret"]
    assert secret.startswith("whsec_")
    again = client.get(f"{URL}{response.json()['id']}/").json()
    assert "secret" not in again and secret not in str(again)
    assert again["tenant"] == tenant.pk and again["recent_deliveries"] == []


@pytest.mark.parametrize(
    "role, own, status",
    [
        ("requester", False, 404),  # another's tenant is not there for them
        ("requester", None, 409),  # every tenant's events: admins only
        ("approver", None, 201),
        ("approver", False, 201),
        ("auditor", None, 403),
        ("anonymous", None, 401),
    ],
)
def test_who_may_register(api_as, requester, other_requester, approver, auditor, role, own, status):
    user = {"requester": requester, "approver": approver, "auditor": auditor}.get(role)
    tenant = None if own is None else TenantFactory(owner=other_requester)
    response = api_as(user).post(URL, _body(tenant), format="json")
    assert response.status_code == status, response.content
    assert response.json()["secret" if status == 201 else "detail"]


def test_bad_input_names_the_field(api_as, approver):
    response = api_as(approver).post(URL, _body(url="ftp://x", events=[]), format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"url", "events"}
    response = api_as(approver).post(URL, _body(events=["tenant.exploded"]), format="json")
    assert response.status_code == 400 and "events" in response.json()["errors"]


def test_each_sees_their_own_and_admins_see_all(api_as, requester, other_requester, approver):
    mine = TenantFactory(owner=requester)
    ours, _ = endpoint_create(actor=requester, url="https://a.example/x", events=["tenant.ready"],
                              tenant=mine)  # fmt: skip
    endpoint_create(actor=approver, url="https://b.example/x", events=["tenant.ready"])
    ids = lambda user: {e["id"] for e in api_as(user).get(URL).json()["results"]}  # noqa: E731
    assert ids(requester) == {ours.pk}
    assert ids(other_requester) == set()
    assert len(ids(approver)) == 2
    assert api_as(other_requester).get(f"{URL}{ours.pk}/").status_code == 404


def test_removal_by_owner_or_admin_only(api_as, requester, other_requester, approver):
    mine = TenantFactory(owner=requester)
    ours, _ = endpoint_create(actor=requester, url="https://a.example/x", events=["tenant.ready"],
                              tenant=mine)  # fmt: skip
    everyone, _ = endpoint_create(actor=approver, url="https://b.example/", events=["tenant.ready"])
    assert api_as(other_requester).delete(f"{URL}{ours.pk}/").status_code == 404
    assert api_as(requester).delete(f"{URL}{ours.pk}/").status_code == 204
    assert api_as(approver).delete(f"{URL}{everyone.pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()
