"""The tenant WordPress checks its ID tokens: what the portal configures, run under real PHP.

OpenID Connect Generic 3.10 only base64-decoded the ID token's payload: no signature, issuer
or audience check, whatever the settings (its 3.11.0 release, "JWT Signature Verification
Implemented ... validates exp, aud, iss, iat, sub", needs the JWKS endpoint configured). So the
image pins 3.11.0 and the portal hands it the keys' URL, the issuer and the client id."""

import json
import re

import pytest

from provisioning import authentikurls
from provisioning.manifests.wordpress import CONFIG_EXTRA, INSTALL_SCRIPT, OIDC_PLUGIN, environment
from provisioning.spec import spec_for
from tests.deploy.render import REPO
from tests.factories import TenantFactory
from tests.fakes.wordpress import mu_plugins, php_string, run_php

pytestmark = pytest.mark.django_db
CHECKS = mu_plugins(INSTALL_SCRIPT)["portal-oidc-checks.php"]
SECRET = {"OIDC_CLIENT_ID": "client-of-shop", "OIDC_CLIENT_SECRET": "s" * 40}


def configured(settings_env: dict[str, str]) -> dict:
    """The plugin's view after wp-config.php and the mu-plugins ran: the constants it reads,
    and its settings once 'openid-connect-generic-settings' was applied (as its init() does)."""
    code = f"""
eval({php_string(CONFIG_EXTRA)});
eval('?>' . {php_string(CHECKS)});
$settings = apply_filters('openid-connect-generic-settings', (object) [
    'client_id' => OIDC_CLIENT_ID, 'endpoint_jwks' => '', 'issuer' => '', 'allow_internal_idp' => 0,
]);
echo json_encode([
    'jwks' => OIDC_ENDPOINT_JWKS_URL, 'issuer' => OIDC_ISSUER, 'token' => OIDC_ENDPOINT_TOKEN_URL,
    'settings' => $settings,
]);
"""
    return json.loads(run_php(code, settings_env))


def pod_env(slug: str) -> dict[str, str]:
    plain = {
        e["name"]: e["value"]
        for e in environment(spec_for(TenantFactory(slug=slug)))
        if "value" in e
    }
    return {**plain, **SECRET}


def test_the_plugin_gets_the_providers_keys_issuer_and_audience(settings):
    settings.PORTAL_AUTHENTIK_URL = "http://authentik-server.authentik.svc"
    settings.PORTAL_AUTHENTIK_PUBLIC_URL = "https://auth.example.com"
    seen = configured(pod_env("shop"))
    # Authentik's per-provider endpoints, on the address the pod calls.
    api = "http://authentik-server.authentik.svc/application/o"
    assert seen["jwks"] == f"{api}/wp-shop/jwks/"
    # The issuer Authentik writes into tokens fetched from the token endpoint's host.
    assert seen["token"].startswith("http://authentik-server.authentik.svc/")
    assert seen["issuer"] == f"{api}/wp-shop/"
    checked = seen["settings"]
    assert (checked["endpoint_jwks"], checked["issuer"]) == (seen["jwks"], seen["issuer"])
    # The audience it compares `aud` with: the tenant's own client.
    assert checked["client_id"] == "client-of-shop"
    # The in-cluster address is private: the plugin's SSRF guard must let exactly it through.
    assert checked["allow_internal_idp"] == 1


def test_a_public_authentik_keeps_the_ssrf_guard(settings):
    settings.PORTAL_AUTHENTIK_URL = "https://auth.example.com"
    settings.PORTAL_AUTHENTIK_PUBLIC_URL = ""
    checked = configured(pod_env("shop"))["settings"]
    assert checked["allow_internal_idp"] == 0
    assert checked["endpoint_jwks"] == "https://auth.example.com/application/o/wp-shop/jwks/"


def test_another_tenant_checks_against_its_own_provider(settings):
    settings.PORTAL_AUTHENTIK_URL = "https://auth.example.com"
    seen = configured(pod_env("blog"))
    assert seen["issuer"] == "https://auth.example.com/application/o/wp-blog/"
    assert "wp-shop" not in json.dumps(seen)


@pytest.mark.parametrize(
    ("url", "internal"),
    [
        ("http://authentik-server.authentik.svc", True),
        ("http://authentik", True),
        ("http://10.0.4.7:9000", True),
        ("http://127.0.0.1:9000", True),
        ("https://auth.example.com", False),
        ("https://212.227.20.5", False),
    ],
)
def test_which_addresses_need_the_internal_idp_setting(url, internal):
    assert authentikurls.is_internal(url) is internal


def test_the_image_pins_a_plugin_that_verifies_id_tokens():
    lock = (REPO / "deploy" / "wordpress" / "plugins.lock").read_text()
    (version,) = re.findall(rf"^{OIDC_PLUGIN} (\S+) ", lock, re.M)
    assert tuple(int(part) for part in version.split(".")) >= (3, 11, 0)
