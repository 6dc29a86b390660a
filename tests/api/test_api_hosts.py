"""Custom host names through the API: the TXT record to create, a check that says why it
failed, the proof that serves the host; the page's sentences and the audit alike."""

from api.etags import etag_of
from api.serializers import TenantDetailSerializer
from provisioning.models import Run
from provisioning.spec import spec_for
from tenants import hostproof
from tenants.models import AuditEvent
from tests.factories import TenantFactory

HOST = "shop.example.org"


def test_a_script_adds_checks_and_removes_a_host(api_for, requester, dns_server):
    tenant = TenantFactory(owner=requester, slug="shop", state="ready")
    client = api_for(requester)
    base = f"/api/v1/tenants/{tenant.pk}/hosts/"

    response = client.post(base, {"name": HOST}, format="json")
    assert response.status_code == 202, response.content
    (host,) = response.json()["hosts"]
    assert host["name"] == HOST and host["proven"] is False and host["own"] is False
    assert host["txt_name"] == f"_wp-portal.{HOST}"
    assert host["txt_value"] == hostproof.proof_value(tenant.pk, HOST)

    # Nothing in DNS yet: a 202 all the same (the check was made), the reason in the host.
    response = client.post(f"{base}check/", {"name": HOST}, format="json")
    assert response.status_code == 202
    (host,) = response.json()["hosts"]
    assert not host["proven"] and "NXDOMAIN" in host["check_result"]
    assert AuditEvent.objects.filter(action="tenant.host_check_failed").count() == 1

    dns_server.txt[f"_wp-portal.{HOST}"] = [host["txt_value"]]
    response = client.post(f"{base}check/", {"name": HOST}, format="json")
    (host,) = response.json()["hosts"]
    assert host["proven"] and host["proven_at"]
    assert spec_for(tenant).extra_hosts == (HOST,)
    assert Run.objects.filter(tenant=tenant, reason="custom host").exists()
    # The ETag follows the hosts: a change to them is a change of the tenant as read.
    assert response["ETag"] == etag_of(TenantDetailSerializer(tenant).data)

    response = client.post(f"{base}remove/", {"name": HOST}, format="json")
    assert response.status_code == 202 and response.json()["hosts"] == []
    assert spec_for(tenant).extra_hosts == ()


def test_refusals_say_the_pages_words(api_for, requester, auditor):
    tenant = TenantFactory(owner=requester, slug="shop", state="ready")
    base = f"/api/v1/tenants/{tenant.pk}/hosts/"
    client = api_for(requester)

    response = client.post(base, {}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["name"] == ["Give the host name, e.g. blog.example.com."]
    response = client.post(base, {"name": "wordpress-shop.local"}, format="json")
    assert response.status_code == 400
    assert "is the site's own host already" in response.json()["errors"]["name"][0]
    response = client.post(f"{base}remove/", {"name": "nothere.example.org"}, format="json")
    assert response.status_code in (400, 409)
    assert response.json()["detail"] == "That host is no longer on the site; reload the page."
    assert api_for(auditor).post(base, {"name": HOST}, format="json").status_code == 403


def test_the_approval_shows_a_requests_own_host_and_its_proof(api_for, requester, approver):
    tenant = TenantFactory(owner=requester, slug="mine", host=HOST)
    body = api_for(approver).get(f"/api/v1/approvals/{tenant.pk}/").json()
    (host,) = body["hosts"]
    assert host["own"] and host["name"] == HOST and host["proven"] is False
    response = api_for(approver).post(
        f"/api/v1/tenants/{tenant.pk}/decide/", {"decision": "approve"}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["detail"].startswith(f"{HOST} is not proven yet")
