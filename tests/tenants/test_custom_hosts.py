"""Custom host names proven by a DNS TXT record (a real DNS server on loopback answers): the
page shows the record, every failed check says why, and only a proven host is served."""

from datetime import timedelta
from html import escape

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from provisioning.manifests.wordpress import ingress
from provisioning.models import Run
from provisioning.secrets import MemorySecrets
from provisioning.spec import spec_for
from provisioning.steps.base import Outcome, StepContext
from provisioning.steps.sso import SsoStep
from tenants import hostproof
from tenants.models import AuditEvent, Tenant, TenantHost
from tenants.tasks import recheck_custom_hosts
from tests import services as svc
from tests.factories import TenantFactory, request_form_data

State = Tenant.State
HOST = "blog.example.com"
RECORD = f"_wp-portal.{HOST}"


def flashed(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def add(client, tenant, name=HOST):
    return client.post(reverse("tenants:host_add", args=[tenant.pk]), {"name": name})


def check(client, tenant, name=HOST):
    return client.post(reverse("tenants:host_check", args=[tenant.pk]), {"name": name})


@pytest.fixture
def site(requester):
    return TenantFactory(owner=requester, slug="shop", state=State.READY)


def test_the_page_shows_the_txt_record_to_create(client_for, requester, site):
    client = client_for(requester)
    response = add(client, site, "  Blog.Example.COM. ")
    assert response.status_code == 302
    assert "Create the TXT record shown" in flashed(response)[0]

    page = client.get(site.get_absolute_url()).content.decode()
    value = hostproof.proof_value(site.pk, HOST)
    assert f"<code>{RECORD}</code>" in page and f"<code>{value}</code>" in page
    assert "Waiting for proof" in page
    assert "by a CNAME to wordpress-shop.local" in page
    # Derived, never stored: the database holds the name, not the value.
    row = TenantHost.objects.get(tenant=site)
    assert row.name == HOST and value not in repr(row.__dict__)
    # A value per tenant and host: another tenant's proof of the same host is another value.
    other = TenantFactory(slug="other")
    assert hostproof.proof_value(other.pk, HOST) != value
    assert hostproof.proof_value(site.pk, "www.example.com") != value
    # Nothing is served, nor run, before the proof.
    assert spec_for(site).extra_hosts == ()
    assert not Run.objects.filter(tenant=site).exists()
    assert AuditEvent.objects.filter(action="tenant.host_added", object_id=str(site.pk)).exists()


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        (lambda dns: None, f"No record: {RECORD} does not exist in DNS (NXDOMAIN)."),
        (lambda dns: dns.names.add(RECORD), f"No TXT record at {RECORD}"),
        (
            lambda dns: dns.txt.__setitem__(RECORD, ["wp-portal-verify=somebody-else"]),
            f"Wrong value: the TXT record at {RECORD} says “wp-portal-verify=somebody-else”",
        ),
        (
            lambda dns: setattr(dns, "mode", "silent"),
            "The DNS servers did not answer within 0.5 s, so nothing was decided",
        ),
        (
            lambda dns: setattr(dns, "mode", "servfail"),
            f"The DNS servers could not answer for {RECORD}",
        ),
    ],
    ids=["nxdomain", "no-txt", "wrong-value", "timeout", "servfail"],
)
def test_each_failed_check_says_why_and_serves_nothing(
    client_for, requester, site, dns_server, setup, words
):
    client = client_for(requester)
    add(client, site)
    setup(dns_server)

    response = check(client, site)

    assert response.status_code == 302
    assert any(words in text for text in flashed(response)), flashed(response)
    assert (RECORD, "TXT") in dns_server.queries
    row = TenantHost.objects.get(tenant=site)
    assert row.proven_at is None and words in row.check_result
    page = client.get(site.get_absolute_url()).content.decode()
    assert escape(words) in page  # the last check stays on the page
    assert spec_for(site).extra_hosts == ()
    assert not Run.objects.filter(tenant=site).exists()
    event = AuditEvent.objects.get(action="tenant.host_check_failed", object_id=str(site.pk))
    assert words in event.message
    # The value to create is derived when shown: in no row, the audit trail's included.
    value = hostproof.proof_value(site.pk, HOST)
    assert value not in row.check_result and value not in repr(event.__dict__)


def test_a_proven_host_is_served_by_a_run_ingress_and_sign_in_alike(
    client_for, requester, site, dns_server, settings, authentik_api
):
    settings.PORTAL_CERT_ISSUER = "letsencrypt"
    settings.PORTAL_AUTHENTIK_ACCESS_GROUP = ""  # the provider alone: groups are tested apart
    client = client_for(requester)
    add(client, site)
    # Beside another TXT record at the same name, as a domain often has.
    dns_server.txt[RECORD] = ["v=spf1 -all", hostproof.proof_value(site.pk, HOST)]

    response = check(client, site)

    assert flashed(response)[-1] == f"{HOST} is proven; a run adds it to the site now."
    assert TenantHost.objects.get(tenant=site).proven_at is not None
    run = Run.objects.get(tenant=site)
    assert run.action == Run.Action.APPLY and run.reason == "custom host"
    assert AuditEvent.objects.filter(action="tenant.host_proven", object_id=str(site.pk)).exists()

    spec = spec_for(site)
    assert spec.hosts == ("wordpress-shop.local", HOST)
    manifest = ingress(spec)
    assert [rule["host"] for rule in manifest["spec"]["rules"]] == list(spec.hosts)
    assert manifest["spec"]["tls"][0]["hosts"] == list(spec.hosts)
    # The sso step, against the fake Authentik: a redirect URI per host the site answers on.
    secrets = MemorySecrets()
    assert SsoStep(StepContext(spec=spec, secrets=secrets)).apply().status == Outcome.DONE
    provider = authentik_api.provider_named("wp-shop")
    assert [uri["url"] for uri in provider["redirect_uris"]] == [
        "https://wordpress-shop.local/wp-admin/admin-ajax.php?action=openid-connect-authorize",
        f"https://{HOST}/wp-admin/admin-ajax.php?action=openid-connect-authorize",
    ]
    assert SsoStep(StepContext(spec=spec, secrets=secrets)).check() == []
    page = client.get(site.get_absolute_url()).content.decode()
    assert "Proven" in page and "Check now" not in page

    # Removed: the site stops answering on it, by a run again.
    response = client.post(reverse("tenants:host_remove", args=[site.pk]), {"name": HOST})
    assert flashed(response)[-1] == f"{HOST} was removed; the site stops answering on it."
    assert spec_for(site).extra_hosts == ()
    assert AuditEvent.objects.filter(action="tenant.host_removed").exists()
    after = SsoStep(StepContext(spec=spec_for(site), secrets=secrets))
    assert any(f"https://{HOST}/" in problem for problem in after.check())


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("not a host", "Enter a host name such as blog.example.com"),
        ("wordpress-shop.local", "is the site's own host already"),
        ("wordpress-evil.local", "has the form of the platform's own host names"),
        ("taken.example.com", "taken.example.com is already in use by another tenant."),
        ("", "Enter a host name such as blog.example.com"),
        ("blog\x00.example.com", "Enter a host name such as blog.example.com"),
        ("bücher.example", "Enter a host name such as blog.example.com"),
        ("a" * 10_000 + ".example.com", "Enter a host name such as blog.example.com"),
    ],
)
def test_a_wrong_host_comes_back_on_the_page_as_typed(client_for, requester, site, name, message):
    TenantFactory(slug="taken", host="taken.example.com", state=State.READY)
    response = add(client_for(requester), site, name)

    assert response.status_code == 400
    page = response.content.decode()
    assert escape(message) in page
    if "\x00" not in name and len(name) < 300:
        assert f'value="{name}"' in page  # as typed, to correct rather than type again
    assert not TenantHost.objects.filter(tenant=site).exists()


def test_a_host_another_tenant_proved_is_taken(client_for, requester, site, dns_server):
    other = TenantFactory(slug="first", state=State.READY)
    TenantHost.objects.create(tenant=other, name=HOST, proven_at="2026-01-01T00:00Z")
    response = add(client_for(requester), site)
    assert response.status_code == 400
    assert f"{HOST} is already in use by another tenant." in response.content.decode()
    # Nor may a request ask for it as its own host.
    response = client_for(requester).post(
        reverse("tenants:request"), request_form_data(slug="third", host=HOST)
    )
    assert response.context["form"].errors["host"] == [
        f"{HOST} is already in use by another tenant."
    ]


def test_only_the_owner_and_admins_manage_hosts(
    client_for, requester, other_requester, approver, auditor, site, dns_server
):
    assert add(client_for(other_requester), site).status_code == 404
    assert add(client_for(auditor), site).status_code == 403
    assert check(client_for(auditor), site).status_code == 403
    assert not TenantHost.objects.exists()
    assert add(client_for(approver), site).status_code == 302
    assert TenantHost.objects.get().added_by == approver
    # An auditor reads the record on the page, without the forms.
    page = client_for(auditor).get(site.get_absolute_url()).content.decode()
    assert RECORD in page and "Check now" not in page and "btn-host-add" not in page


def test_a_request_with_its_own_domain_waits_for_its_proof_before_approval(
    client_for, requester, approver, dns_server
):
    client = client_for(requester)
    response = client.post(reverse("tenants:request"), request_form_data(slug="mine", host=HOST))
    tenant = Tenant.objects.get(slug="mine")
    assert response.status_code == 302
    # The requester's page shows the record to create before anyone approved.
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert hostproof.proof_value(tenant.pk, HOST) in page
    assert "a platform admin tells you its address" in page  # no CNAME to itself

    admin = client_for(approver)
    approval = reverse("tenants:approval", args=[tenant.pk])
    page = admin.get(approval).content.decode()
    assert "Not proven" in page and "not checked yet" in page
    assert "Not proven" in admin.get(reverse("tenants:approvals")).content.decode()
    response = admin.post(approval, {"decision": "approve"})
    assert f"{HOST} is not proven yet" in flashed(response)[0]
    tenant.refresh_from_db()
    assert tenant.state == State.REQUESTED

    check(client, tenant)  # nothing there yet: the approver reads the last check
    assert "NXDOMAIN" in admin.get(approval).content.decode()

    dns_server.txt[RECORD] = [hostproof.proof_value(tenant.pk, HOST)]
    response = check(client, tenant)
    assert flashed(response)[-1] == f"{HOST} is proven; a platform admin may approve now."
    assert "Proven" in admin.get(approval).content.decode()
    assert "Not proven" not in admin.get(reverse("tenants:approvals")).content.decode()
    admin.post(approval, {"decision": "approve"})
    tenant.refresh_from_db()
    assert tenant.state == State.APPROVED
    # Its own host is the site's address: served as before, not as an extra host.
    assert spec_for(tenant).hosts == (HOST,)


def test_a_request_on_the_platforms_host_needs_no_proof(client_for, requester, approver):
    tenant = TenantFactory(owner=requester, slug="plain")
    page = client_for(approver).get(reverse("tenants:approval", args=[tenant.pk])).content
    assert "(the platform's)" in page.decode()
    client_for(approver).post(
        reverse("tenants:approval", args=[tenant.pk]), {"decision": "approve"}
    )
    tenant.refresh_from_db()
    assert tenant.state == State.APPROVED


def test_the_beat_finds_a_proof_by_itself(client_for, requester, site, dns_server, settings):
    """The owner made the record and never came back: the periodic look finds it."""
    add(client_for(requester), site)
    stale = TenantHost.objects.create(tenant=site, name="old.example.com")
    TenantHost.objects.filter(pk=stale.pk).update(added_at=timezone.now() - timedelta(days=8))

    recheck_custom_hosts()  # nothing in DNS: the words on the page, nothing audited
    row = TenantHost.objects.get(name=HOST)
    assert "NXDOMAIN" in row.check_result and row.proven_at is None
    assert not AuditEvent.objects.filter(action="tenant.host_check_failed").exists()
    assert ("_wp-portal.old.example.com", "TXT") not in dns_server.queries  # given up on

    dns_server.txt[RECORD] = [hostproof.proof_value(site.pk, HOST)]
    recheck_custom_hosts()  # looked at a moment ago: not again before the interval
    assert TenantHost.objects.get(name=HOST).proven_at is None
    settings.PORTAL_HOST_RECHECK_INTERVAL = 0
    recheck_custom_hosts()
    assert TenantHost.objects.get(name=HOST).proven_at is not None
    event = AuditEvent.objects.get(action="tenant.host_proven")
    assert event.actor_name == "system"
    assert spec_for(site).extra_hosts == (HOST,)
    assert Run.objects.filter(tenant=site, reason="custom host").exists()


def test_a_requests_own_host_is_looked_for_by_the_beat_too(client_for, requester, dns_server):
    client_for(requester).post(
        reverse("tenants:request"), request_form_data(slug="mine", host=HOST)
    )
    tenant = Tenant.objects.get(slug="mine")
    dns_server.txt[RECORD] = [hostproof.proof_value(tenant.pk, HOST)]
    recheck_custom_hosts()
    assert TenantHost.objects.get(tenant=tenant, name=HOST).is_proven
    # Nothing to serve yet: the request waits for its decision, now without the proof's hold.
    assert not Run.objects.filter(tenant=tenant).exists()


def test_a_clones_own_host_waits_for_its_proof_like_a_requests(
    client_for, requester, approver, dns_server, settings
):
    from tenants import clone

    settings.PORTAL_MARIADB_URL = svc.MARIADB_URL  # cloning needs both; nothing connects
    settings.PORTAL_S3_ENDPOINT_URL = "http://127.0.0.1:9"
    source = TenantFactory(owner=requester, slug="shop", state=State.READY)
    made = clone.tenant_clone(source=source, actor=requester, host="Staging.Example.COM")
    row = TenantHost.objects.get(tenant=made)
    assert (row.name, row.added_by, row.proven_at) == ("staging.example.com", requester, None)
    page = client_for(requester).get(made.get_absolute_url()).content.decode()
    assert hostproof.proof_value(made.pk, "staging.example.com") in page

    record = "_wp-portal.staging.example.com"
    dns_server.txt[record] = [hostproof.proof_value(made.pk, "staging.example.com")]
    recheck_custom_hosts()  # the beat finds the proof of the clone's host by itself
    assert TenantHost.objects.get(tenant=made).is_proven
    client_for(approver).post(reverse("tenants:approval", args=[made.pk]), {"decision": "approve"})
    made.refresh_from_db()
    assert made.state == State.APPROVED


@pytest.mark.parametrize("action", ["host_check", "host_remove"])
@pytest.mark.parametrize("name", ["", "nothere.example.com", "x\x00y", "é" * 5000])
def test_checking_or_removing_an_odd_name_is_told_plainly(
    client_for, requester, site, action, name
):
    response = client_for(requester).post(
        reverse(f"tenants:{action}", args=[site.pk]), {"name": name}
    )
    assert response.status_code == 302
    assert flashed(response) == ["That host is no longer on the site; reload the page."]


def test_the_first_proof_holds_the_host(client_for, requester, other_requester, site, dns_server):
    theirs = TenantFactory(owner=other_requester, slug="theirs", state=State.READY)
    add(client_for(requester), site)
    add(client_for(other_requester), theirs)  # nobody proved it yet: both may try
    # Whoever controls the domain could put both values there; the first check wins.
    dns_server.txt[RECORD] = [
        hostproof.proof_value(site.pk, HOST),
        hostproof.proof_value(theirs.pk, HOST),
    ]
    check(client_for(requester), site)
    response = check(client_for(other_requester), theirs)
    assert flashed(response)[-1] == f"{HOST} is already in use by another tenant."
    assert spec_for(theirs).extra_hosts == () and spec_for(site).extra_hosts == (HOST,)


def test_the_receipt_mail_says_which_record_to_create(
    client_for, requester, approver, mailoutbox, eager_celery, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client_for(requester).post(
            reverse("tenants:request"), request_form_data(slug="mine", host=HOST)
        )
    tenant = Tenant.objects.get(slug="mine")
    receipt = next(m for m in mailoutbox if requester.email in m.to)
    assert f"Name:  {RECORD}" in receipt.body
    assert f"Value: {hostproof.proof_value(tenant.pk, HOST)}" in receipt.body
    to_admins = next(m for m in mailoutbox if approver.email in m.to)
    assert "not proven yet: approval waits for its DNS TXT record" in to_admins.body


def test_auditors_read_the_hosts_in_the_admin(client_for, auditor, site):
    TenantHost.objects.create(tenant=site, name=HOST, check_result="No TXT record at …")
    page = client_for(auditor).get(reverse("admin:tenants_tenant_change", args=[site.pk]))
    assert page.status_code == 200
    assert HOST in page.content.decode() and "No TXT record at" in page.content.decode()
