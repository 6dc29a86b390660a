"""One URL per tenant: site URL, OIDC redirect, page link and mail agree for all settings."""

import re

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from provisioning.manifests.wordpress import deployment, install_job
from provisioning.secrets import MemorySecrets
from provisioning.spec import spec_for
from provisioning.steps.base import StepContext
from provisioning.steps.sso import REDIRECT_PATH, SsoStep
from tenants import notifications
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container["env"]}


@pytest.mark.parametrize("issuer", ["", "letsencrypt-prod"])
@pytest.mark.parametrize("upstream", [False, True])
@pytest.mark.parametrize("legacy_scheme", ["", "matching"])
@pytest.mark.parametrize("host", [None, "blog.example.org"])
def test_redirect_uri_site_url_page_and_mail_agree(
    settings, client_for, requester, issuer, upstream, legacy_scheme, host
):
    settings.PORTAL_CERT_ISSUER = issuer
    settings.PORTAL_TENANT_TLS_UPSTREAM = upstream
    served = "https" if issuer or upstream else "http"
    settings.PORTAL_TENANT_URL_SCHEME = served if legacy_scheme else ""
    tenant = TenantFactory(
        owner=requester, slug="shop", state="ready", **({"host": host} if host else {})
    )
    spec = spec_for(tenant)

    site = env_of(deployment(spec)["spec"]["template"]["spec"]["containers"][0])["WP_URL"]
    installed = env_of(install_job(spec)["spec"]["template"]["spec"]["containers"][0])["WP_URL"]
    sso = SsoStep(StepContext(spec=spec, secrets=MemorySecrets()))

    assert site == f"{served}://{spec.host}"
    assert installed == site
    # The plugin sends admin_url('admin-ajax.php?action=openid-connect-authorize') of the site URL.
    assert sso.redirect_uri == site + REDIRECT_PATH
    assert sso.site_url == site + "/"
    page = client_for(requester).get(tenant.get_absolute_url()).content.decode()
    assert re.findall(r'<a href="([^"]+)" rel="noopener', page) == [site + "/"]
    notifications.notify_ready(tenant.pk)
    assert f"Site: {site}/\n" in mail.outbox[0].body


def test_a_wordpress_site_url_follows_the_portal_not_only_the_install(settings):
    # wp-config defines WP_HOME/WP_SITEURL from WP_URL: a later TLS change reaches the running
    # site, whose redirect URI the sso step changes at the same time.
    spec = spec_for(TenantFactory(slug="shop"))
    extra = env_of(deployment(spec)["spec"]["template"]["spec"]["containers"][0])
    assert "define('WP_HOME', getenv('WP_URL'));" in extra["WORDPRESS_CONFIG_EXTRA"]
    assert "define('WP_SITEURL', getenv('WP_URL'));" in extra["WORDPRESS_CONFIG_EXTRA"]


@pytest.mark.parametrize(
    ("issuer", "upstream", "scheme"),
    [("", False, "https"), ("letsencrypt-prod", False, "http"), ("", True, "http")],
)
def test_a_scheme_that_disagrees_with_the_served_tls_stops_the_portal(
    settings, issuer, upstream, scheme
):
    settings.PORTAL_CERT_ISSUER = issuer
    settings.PORTAL_TENANT_TLS_UPSTREAM = upstream
    settings.PORTAL_TENANT_URL_SCHEME = scheme
    with pytest.raises(SystemCheckError, match="provisioning.E001.*PORTAL_TENANT_URL_SCHEME"):
        call_command("check")


def test_the_default_configuration_passes_the_checks(settings):
    call_command("check")
