"""Tenant sites send browsers to Authentik's public address; their pods call the API address."""

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from provisioning.manifests.wordpress import deployment
from provisioning.spec import spec_for
from tests.factories import TenantFactory
from tests.provisioning.wpconfig import constants, pod_env

pytestmark = pytest.mark.django_db

API = "http://authentik-server.authentik.svc"
PUBLIC = "https://auth.example.com"


def plugin_settings() -> dict[str, object]:
    spec = spec_for(TenantFactory(slug="shop"))
    env = pod_env(deployment(spec)["spec"]["template"]["spec"]["containers"][0])
    return constants(env["WORDPRESS_CONFIG_EXTRA"], env)


def test_the_authorize_and_logout_urls_are_the_public_ones(settings):
    settings.PORTAL_AUTHENTIK_URL = API
    settings.PORTAL_AUTHENTIK_PUBLIC_URL = PUBLIC
    oidc = plugin_settings()
    assert oidc["OIDC_ENDPOINT_LOGIN_URL"] == f"{PUBLIC}/application/o/authorize/"
    assert oidc["OIDC_ENDPOINT_LOGOUT_URL"] == f"{PUBLIC}/application/o/wp-shop/end-session/"
    # Server-to-server calls of the pod stay on the in-cluster address.
    assert oidc["OIDC_ENDPOINT_TOKEN_URL"] == f"{API}/application/o/token/"
    assert oidc["OIDC_ENDPOINT_USERINFO_URL"] == f"{API}/application/o/userinfo/"


def test_without_a_public_url_browsers_use_the_api_url(settings):
    settings.PORTAL_AUTHENTIK_URL = PUBLIC
    settings.PORTAL_AUTHENTIK_PUBLIC_URL = ""
    assert plugin_settings()["OIDC_ENDPOINT_LOGIN_URL"] == f"{PUBLIC}/application/o/authorize/"


@pytest.mark.parametrize(
    ("api", "public", "error"),
    [
        ("", "", "provisioning.E002.*authentik.local"),
        (API, "", "provisioning.E004.*authentik-server.authentik.svc"),
        (API, "auth.example.com", "provisioning.E003"),
        ("", "https://authentik.authentik.svc.cluster.local", "provisioning.E004"),
    ],
)
def test_a_real_cluster_refuses_an_authentik_address_browsers_cannot_use(
    settings, api, public, error
):
    settings.PORTAL_KUBECONFIG = "/etc/portal/kubeconfig"
    settings.PORTAL_AUTHENTIK_URL = api
    settings.PORTAL_AUTHENTIK_PUBLIC_URL = public
    with pytest.raises(SystemCheckError, match=error):
        call_command("check")


@pytest.mark.parametrize(("api", "public"), [(API, PUBLIC), (PUBLIC, "")])
def test_a_real_cluster_with_a_reachable_authentik_passes(settings, api, public):
    settings.PORTAL_KUBECONFIG = "/etc/portal/kubeconfig"
    settings.PORTAL_AUTHENTIK_URL = api
    settings.PORTAL_AUTHENTIK_PUBLIC_URL = public
    call_command("check")


def test_plan_mode_may_show_the_placeholder(settings):
    settings.PORTAL_AUTHENTIK_URL = settings.PORTAL_AUTHENTIK_PUBLIC_URL = ""
    call_command("check")
    assert plugin_settings()["OIDC_ENDPOINT_LOGIN_URL"].startswith("https://authentik.local/")
