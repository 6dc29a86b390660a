"""Production headers: CSP with no inline script or style anywhere, HSTS and the SSL redirect
from the environment, private pages never cached, DEBUG refused beyond loopback, and
`check --deploy` silent with the production overlay's settings."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management.utils import get_random_secret_key
from django.urls import reverse

from portal.auth.config import url_origin
from tests.deploy.render import render
from tests.factories import TenantFactory

ROOT = Path(__file__).resolve().parent.parent.parent
TEMPLATES = ROOT / "templates"


def _run_settings(env: dict, *args: str) -> subprocess.CompletedProcess:
    full = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PORTAL_"))},
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        **env,
    }
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=full, capture_output=True, text=True, timeout=120
    )


@pytest.mark.django_db
def test_every_page_carries_a_policy_of_the_portals_own_files(client_for, requester):
    response = client_for(requester).get(reverse("tenants:list"))

    policy = dict(
        part.strip().split(" ", 1) for part in response["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == policy["script-src"] == policy["style-src"] == "'self'"
    assert policy["frame-ancestors"] == policy["object-src"] == "'none'"
    assert "unsafe" not in response["Content-Security-Policy"]


# An inline script or style, or an event handler attribute: what the policy would block.
INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:", re.IGNORECASE
)


def test_no_template_has_inline_script_or_style():
    found = [
        f"{path.relative_to(TEMPLATES)}: {match.group(0)}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for match in INLINE.finditer(path.read_text())
    ]
    assert not found, found


@pytest.mark.django_db
def test_htmx_is_told_to_add_no_style_settle_none_and_eval_nothing(client_for, requester):
    page = client_for(requester).get(reverse("tenants:list")).content.decode()

    assert '"includeIndicatorStyles":false' in page and '"allowEval":false' in page
    assert ".htmx-indicator" in (ROOT / "portal/static/portal/portal.css").read_text()
    # Its settle step copies these with setAttribute; a style attribute that way is blocked.
    config = json.loads(re.search(r"name=\"htmx-config\" content='([^']*)'", page).group(1))
    assert config["attributesToSettle"] == ["class", "width", "height"]


@pytest.mark.django_db
def test_pages_with_tenant_data_are_never_stored(client_for, requester):
    tenant = TenantFactory(owner=requester)
    client = client_for(requester)

    for url in (reverse("tenants:list"), tenant.get_absolute_url()):
        cache_control = {v.strip() for v in client.get(url)["Cache-Control"].split(",")}
        assert {"private", "no-store"} <= cache_control, url


def test_the_sign_in_form_may_go_to_authentik_and_nowhere_else():
    assert url_origin("https://auth.example.com:8443/application/o/portal") == (
        "https://auth.example.com:8443"
    )
    assert url_origin("") == ""
    assert django_settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"] == ["'self'"]

    shown = _run_settings(
        {"PORTAL_OIDC_SERVER_URL": "https://auth.example.com/application/o/portal"},
        "-c",
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['form-action'])",
    )
    assert shown.stdout.strip() == "[\"'self'\", 'https://auth.example.com']", shown.stderr


@pytest.mark.django_db
def test_plain_http_is_redirected_but_the_probes_are_answered(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/tenants/")["Location"] == "https://testserver/tenants/"
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)


@pytest.mark.django_db
def test_hsts_is_sent_over_https_as_configured(client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = settings.SECURE_HSTS_PRELOAD = True

    response = client.get("/accounts/login/", secure=True)

    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_debug_is_refused_beyond_loopback():
    refused = _run_settings(
        {"DJANGO_DEBUG": "true", "DJANGO_ALLOWED_HOSTS": "portal.example.com,localhost"},
        "-c",
        "import django; django.setup()",
    )
    assert refused.returncode != 0
    assert "DJANGO_DEBUG is on while DJANGO_ALLOWED_HOSTS names hosts beyond loopback " in (
        refused.stderr
    )
    assert "(portal.example.com)" in refused.stderr

    allowed = _run_settings({"DJANGO_DEBUG": "true"}, "-c", "import django; django.setup()")
    assert allowed.returncode == 0, allowed.stderr


def test_check_deploy_is_silent_with_the_production_overlays_settings(tmp_path):
    manifests = render(ROOT / "deploy" / "portal" / "overlays" / "ionos")
    # The portal's own ConfigMap by name: the overlay holds others (the maintenance page's).
    config = next(
        m
        for m in manifests
        if m["kind"] == "ConfigMap" and m["metadata"]["name"].startswith("portal-config")
    )["data"]
    env = {
        **config,
        # What the portal-secrets Secret (portal.env, deploy/README.md) adds, in its shape.
        "DJANGO_SECRET_KEY": get_random_secret_key(),
        "DATABASE_URL": "postgres://portal:pw@127.0.0.1:5432/portal",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
        "PORTAL_CACHE_URL": "redis://127.0.0.1:6379/14",
        "PORTAL_AUTHENTIK_URL": "https://auth.wp.example.com",
        "PORTAL_AUTHENTIK_TOKEN": "token",
        "PORTAL_OIDC_SERVER_URL": "https://auth.wp.example.com/application/o/portal",
        "PORTAL_OIDC_CLIENT_ID": "portal",
        "PORTAL_OIDC_CLIENT_SECRET": "secret",
        "PORTAL_VAR_DIR": str(tmp_path),
        # What the infrastructure's portal_config adds (components/gitops), in its shape.
        "PORTAL_EGRESS_DB_CIDRS": "10.7.1.244/32",
        "PORTAL_EGRESS_S3_CIDRS": "85.215.142.30/32",
        "PORTAL_EGRESS_AUTHENTIK_VIA_INGRESS": "true",
        "PORTAL_EGRESS_AUTHENTIK_CIDRS": "203.0.113.10/32",
    }
    checked = _run_settings(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert checked.returncode == 0, checked.stderr + checked.stdout
    assert "System check identified no issues" in checked.stdout
