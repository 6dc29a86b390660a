"""Webhooks go to the public internet only: internal receivers are refused at registration (the
service, the API, the admin's page) and again at each delivery, after resolving the name once,
unless the operator allows their network (PORTAL_WEBHOOK_ALLOWED_NETWORKS)."""

import contextlib
import datetime
import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from api.models import WebhookDelivery, WebhookEndpoint
from api.webhooks.addresses import HELP, NOT_PUBLIC, REFUSED, may_send_to
from api.webhooks.services import endpoint_create
from tenants.audit import audit_record
from tenants.models import AuditEvent, Tenant
from tests.factories import TenantFactory
from tests.fakes.resolver import PUBLIC
from tests.fakes.webhook_receiver import Receiver

pytestmark = pytest.mark.django_db

# Each way to name an address inside the platform; the resolver's answers are set per name.
INTERNAL = [
    "http://127.0.0.1:1/hook",
    "http://localhost/hook",
    "http://10.0.0.5/hook",
    "http://192.168.1.20:8080/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[fe80::1]/hook",
    "http://[fd00::1]/hook",
    "https://kubernetes.default.svc/api",  # the resolver answers 10.96.0.1
    "https://metadata.google.internal/",  # 169.254.169.254
    "https://half.example.org/hook",  # one public address and one private
    "https://nowhere.example.org/hook",  # no address at all
]
# Forms the system resolver reads as 127.0.0.1, refused as not an address at all.
ODD = ["http://2130706433/", "http://0177.0.0.1/", "http://0x7f.1/", "http://127.1/"]


@pytest.fixture
def internal_names(resolver):
    resolver["kubernetes.default.svc"] = ["10.96.0.1"]
    resolver["metadata.google.internal"] = ["169.254.169.254"]
    resolver["half.example.org"] = [PUBLIC, "10.0.0.7"]
    resolver["nowhere.example.org"] = []
    return resolver


@pytest.fixture
def hooks(settings, eager_celery, django_capture_on_commit_callbacks):
    settings.PORTAL_WEBHOOK_RETRY_BASE = 0.01
    settings.PORTAL_WEBHOOK_ATTEMPTS = 2
    eager_celery.conf.task_eager_propagates = False

    def event(tenant):
        with django_capture_on_commit_callbacks(execute=True):
            audit_record(action=AuditEvent.Action.TENANT_READY, obj=tenant)

    return event


@pytest.mark.parametrize("url", INTERNAL + ODD)
def test_the_service_refuses_an_internal_receiver(internal_names, approver, url):
    with pytest.raises(ValidationError) as exc:
        endpoint_create(actor=approver, url=url, events=["tenant.ready"])
    [message] = exc.value.message_dict["url"]
    assert message == REFUSED or url in ODD
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize("url", INTERNAL)
def test_the_api_answers_400_with_the_fields_message(internal_names, requester, url):
    client = APIClient()
    client.force_authenticate(requester)
    tenant = TenantFactory(owner=requester)
    body = {"url": url, "events": ["tenant.ready"], "tenant": tenant.pk}
    response = client.post("/api/v1/webhooks/", body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"] == {"url": [REFUSED]}
    assert "secret" not in response.json() and not WebhookEndpoint.objects.exists()


def test_the_admins_page_says_so_beside_the_field(internal_names, client_for, approver):
    client = client_for(approver)
    assert HELP in client.get("/admin/api/webhookendpoint/add/").content.decode()
    for url in ["http://169.254.169.254/latest/meta-data/", "https://kubernetes.default.svc/"]:
        page = client.post(
            "/admin/api/webhookendpoint/add/", {"url": url, "events": ["tenant.ready"]}
        )
        assert page.status_code == 200 and REFUSED in page.content.decode()
        assert "secret" not in page.context
    assert not WebhookEndpoint.objects.exists()


def test_an_edit_in_the_admin_is_held_to_the_same_rule(internal_names, client_for, approver):
    endpoint, _ = endpoint_create(
        actor=approver, url="https://hooks.example.org/x", events=["tenant.ready"]
    )
    change = f"/admin/api/webhookendpoint/{endpoint.pk}/change/"
    form = {
        "url": "http://10.0.0.5/hook",
        "events": '["tenant.ready"]',
        "is_active": "on",
        "deliveries-TOTAL_FORMS": "0",
        "deliveries-INITIAL_FORMS": "0",
    }
    page = client_for(approver).post(change, form)
    assert page.status_code == 200 and REFUSED in page.content.decode()
    endpoint.refresh_from_db()
    assert endpoint.url == "https://hooks.example.org/x"
    page = client_for(approver).post(change, {**form, "url": "https://other.example.org/x"})
    assert page.status_code == 302
    endpoint.refresh_from_db()
    assert endpoint.url == "https://other.example.org/x"


def test_a_name_that_turns_to_loopback_after_registration_is_refused_at_delivery(
    hooks, resolver, approver
):
    with Receiver() as receiver:
        port = receiver.server.server_address[1]
        resolver["hooks.rebind.example"] = [PUBLIC]
        endpoint_create(
            actor=approver, url=f"http://hooks.rebind.example:{port}/hook", events=["tenant.ready"]
        )
        resolver["hooks.rebind.example"] = ["127.0.0.1"]  # the rebinding answer
        hooks(TenantFactory(state=Tenant.State.READY))
    assert receiver.requests == []
    row = WebhookDelivery.objects.get()
    assert (row.status, row.attempts, row.response_status) == ("failed", 2, None)
    assert row.last_error == NOT_PUBLIC


def test_one_internal_address_among_public_ones_is_enough_to_refuse(hooks, resolver, approver):
    with Receiver() as receiver:
        port = receiver.server.server_address[1]
        resolver["hooks.mixed.example"] = [PUBLIC]
        endpoint_create(
            actor=approver, url=f"http://hooks.mixed.example:{port}/hook", events=["tenant.ready"]
        )
        resolver["hooks.mixed.example"] = ["127.0.0.1", PUBLIC]
        hooks(TenantFactory(state=Tenant.State.READY))
    assert receiver.requests == []
    assert WebhookDelivery.objects.get().last_error == NOT_PUBLIC


def test_an_endpoint_stored_before_the_rule_hears_nothing(hooks, approver):
    with Receiver() as receiver:
        WebhookEndpoint.objects.create(url=receiver.url, events=["tenant.ready"], salt="s")
        hooks(TenantFactory(state=Tenant.State.READY))
    assert receiver.requests == []
    assert WebhookDelivery.objects.get().last_error == NOT_PUBLIC


def test_an_allowed_network_gets_the_post_at_the_checked_address_by_name(
    hooks, resolver, approver, loopback_receivers
):
    # The name exists only in the portal's resolver: the POST arrives because the connection
    # goes to the address that was checked, not to a second lookup.
    resolver["hooks.cluster.example"] = ["127.0.0.1"]
    with Receiver() as receiver:
        port = receiver.server.server_address[1]
        endpoint_create(
            actor=approver, url=f"http://hooks.cluster.example:{port}/hook", events=["tenant.ready"]
        )
        hooks(TenantFactory(state=Tenant.State.READY))
    [(headers, _)] = receiver.requests
    assert headers["host"] == f"hooks.cluster.example:{port}"
    assert WebhookDelivery.objects.get().status == "delivered"


@pytest.fixture
def tls_listener(tmp_path):
    """A TLS server on loopback with a self-signed certificate for hooks.tls.example; records
    the name each client asked for (SNI)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.tls.example")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.tls.example")]), False)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    names: list[str | None] = []
    context.sni_callback = lambda _sock, server_name, _ctx: names.append(server_name)
    server = socket.create_server(("127.0.0.1", 0))

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return  # closed at the test's end
            with contextlib.suppress(OSError), conn:
                context.wrap_socket(conn, server_side=True).close()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], names
    server.close()


def test_tls_to_the_checked_address_still_asks_and_verifies_by_name(
    hooks, resolver, approver, loopback_receivers, tls_listener
):
    port, names = tls_listener
    resolver["hooks.tls.example"] = ["127.0.0.1"]
    endpoint_create(
        actor=approver, url=f"https://hooks.tls.example:{port}/hook", events=["tenant.ready"]
    )
    hooks(TenantFactory(state=Tenant.State.READY))
    assert names and set(names) == {"hooks.tls.example"}  # SNI by name, not 127.0.0.1
    row = WebhookDelivery.objects.get()  # a self-signed certificate is not trusted
    assert row.status == "failed" and row.last_error == "Could not reach the receiver (SSLError)."


@pytest.mark.parametrize(
    "ip, allowed",
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", True),  # NAT64 of a public address
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.251", False),
        ("255.255.255.255", False),
        ("240.0.0.1", False),
        ("192.0.2.1", False),
        ("::1", False),
        ("::", False),
        ("::ffff:10.0.0.1", False),
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("fe80::1%eth0", False),
        ("fd12:3456::1", False),
        ("ff02::1", False),
        ("not an address", False),
    ],
)
def test_which_addresses_are_public(settings, ip, allowed):
    settings.PORTAL_WEBHOOK_ALLOWED_NETWORKS = []
    assert may_send_to(ip) is allowed


def test_allowed_networks_open_only_themselves(settings):
    settings.PORTAL_WEBHOOK_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert may_send_to("10.96.0.1") and may_send_to("::ffff:10.96.0.1")
    assert not may_send_to("127.0.0.1") and not may_send_to("172.16.0.1")
