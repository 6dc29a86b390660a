"""Tenant egress: each platform service at its own address, and a warning where it is any."""

import pytest
from django.core.checks import run_checks

from provisioning import egress, schema
from provisioning.manifests import network_manifests
from provisioning.spec import spec_for
from tenants.models import Tenant
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

NAMES = {
    "PORTAL_MARIADB_URL": "mysql://portal@mariadb.example.net:3306/",
    "PORTAL_S3_ENDPOINT_URL": "https://s3.eu-central-3.ionoscloud.com",
    "PORTAL_AUTHENTIK_URL": "https://auth.example.com",
}


def configure(settings, **changes):
    for name, value in {"PORTAL_WORDPRESS_DB_HOST": "", **NAMES, **changes}.items():
        setattr(settings, name, value)


def platform_rules() -> list[dict]:
    """The egress rules as applied to a tenant, after checking them against Kubernetes 1.32."""
    tenant = Tenant.objects.filter(slug="shop").first() or TenantFactory(slug="shop")
    policies = network_manifests(spec_for(tenant))
    schema.validate_all(policies)
    (platform,) = [p for p in policies if p["metadata"]["name"] == "allow-egress-platform-services"]
    return platform["spec"]["egress"]


def block(cidr: str, port: int) -> dict:
    return {"to": [{"ipBlock": {"cidr": cidr}}], "ports": [{"protocol": "TCP", "port": port}]}


def in_namespace(name: str, port: int | None = None) -> dict:
    rule = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}]}
    return {**rule, "ports": [{"protocol": "TCP", "port": port}]} if port else rule


def egress_warnings() -> dict[str, str]:
    found = run_checks(include_deployment_checks=True)
    return {m.id: f"{m.msg} {m.hint}" for m in found if m.id.startswith("provisioning.W03")}


def test_ip_addresses_are_the_only_addresses_allowed(settings):
    configure(
        settings,
        PORTAL_MARIADB_URL="mysql://portal@10.7.0.5:3307/",
        PORTAL_S3_ENDPOINT_URL="http://198.51.100.7:9000",
        PORTAL_AUTHENTIK_URL="https://[2001:db8::9]:8443",
    )
    assert platform_rules() == [
        block("10.7.0.5/32", 3307),
        block("198.51.100.7/32", 9000),
        block("2001:db8::9/128", 8443),
    ]


@pytest.mark.parametrize(
    "db_host, expected",
    [
        ("10.7.0.6", ("10.7.0.6", 3306)),
        ("10.7.0.6:3307", ("10.7.0.6", 3307)),
        ("[fd00::6]:3307", ("fd00::6", 3307)),
        ("fd00::6", ("fd00::6", 3306)),
        ("db.example.net", ("db.example.net", 3306)),
    ],
)
def test_the_wordpress_database_host_is_read_with_or_without_its_port(settings, db_host, expected):
    configure(settings, PORTAL_WORDPRESS_DB_HOST=db_host)
    assert egress.db_address() == expected


def test_in_cluster_services_are_reached_in_their_namespaces(settings):
    configure(
        settings,
        PORTAL_WORDPRESS_DB_HOST="mariadb.databases.svc.cluster.local:3306",
        PORTAL_S3_ENDPOINT_URL="http://minio.storage.svc:9000",
        PORTAL_AUTHENTIK_URL="http://authentik-server.authentik.svc",
    )
    # Any port there: a policy sees the pod's port, which the Service's need not be.
    assert platform_rules() == [
        in_namespace("databases"),
        in_namespace("storage"),
        in_namespace("authentik"),
    ]
    settings.PORTAL_EGRESS_DB_PORT = 3306  # the pods' port, when an operator knows it
    assert platform_rules()[0] == in_namespace("databases", 3306)
    assert egress_warnings() == {}


def test_names_mean_any_address_on_the_services_port(settings):
    configure(settings, PORTAL_AUTHENTIK_URL="http://authentik")  # bare: the tenant's namespace
    assert platform_rules() == [
        block("0.0.0.0/0", 3306),
        block("0.0.0.0/0", 443),
        block("0.0.0.0/0", 80),
    ]
    assert all(target.open for target in egress.targets())


def test_configured_ranges_win(settings):
    configure(
        settings,
        PORTAL_MARIADB_URL="mysql://portal@10.7.0.5:3306/",
        PORTAL_EGRESS_DB_CIDRS=["10.7.0.0/24"],
        PORTAL_EGRESS_S3_CIDRS=["85.215.142.30/32", "85.215.142.31/32"],
        PORTAL_EGRESS_AUTHENTIK_CIDRS=["203.0.113.10/32"],
    )
    s3 = {
        "to": [
            {"ipBlock": {"cidr": "85.215.142.30/32"}},
            {"ipBlock": {"cidr": "85.215.142.31/32"}},
        ],
        "ports": [{"protocol": "TCP", "port": 443}],
    }
    assert platform_rules() == [block("10.7.0.0/24", 3306), s3, block("203.0.113.10/32", 443)]


def test_an_authentik_behind_the_clusters_ingress_is_reached_at_the_controller(settings):
    configure(settings, PORTAL_EGRESS_AUTHENTIK_VIA_INGRESS=True)
    controller = {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "ingress-nginx"}}
    }
    ports = [{"protocol": "TCP", "port": 443}]
    assert platform_rules()[2] == {"to": [controller], "ports": ports}
    assert not egress.authentik().open
    # And at the load balancer's address, for a balancer that takes the pods' traffic itself.
    settings.PORTAL_EGRESS_AUTHENTIK_CIDRS = ["203.0.113.10/32"]
    lb = {"ipBlock": {"cidr": "203.0.113.10/32"}}
    assert platform_rules()[2] == {"to": [controller, lb], "ports": ports}


def test_check_deploy_names_the_setting_of_each_target_still_open(settings):
    configure(settings, PORTAL_KUBE_IN_CLUSTER=True, PORTAL_EGRESS_DB_CIDRS=["0.0.0.0/0"])

    warned = egress_warnings()

    assert set(warned) == {"provisioning.W030", "provisioning.W031", "provisioning.W032"}
    assert warned["provisioning.W030"].startswith(
        "Tenants may connect to any address on port 3306 (meant for the database): "
        "PORTAL_EGRESS_DB_CIDRS allows any address."
    )
    assert (
        "PORTAL_EGRESS_S3_CIDRS is unset and s3.eu-central-3.ionoscloud.com is neither"
        in (warned["provisioning.W031"])
    )
    assert "Set PORTAL_EGRESS_AUTHENTIK_VIA_INGRESS=true" in warned["provisioning.W032"]

    configure(
        settings,
        PORTAL_EGRESS_DB_CIDRS=["10.7.0.5/32"],
        PORTAL_EGRESS_S3_CIDRS=["85.215.142.30/32"],
        PORTAL_EGRESS_AUTHENTIK_VIA_INGRESS=True,
    )
    assert egress_warnings() == {}


def test_plan_mode_is_not_warned_about(settings):
    configure(settings, PORTAL_KUBE_IN_CLUSTER=False, PORTAL_KUBECONFIG="", PORTAL_IONOS_TOKEN="")
    assert egress_warnings() == {}
