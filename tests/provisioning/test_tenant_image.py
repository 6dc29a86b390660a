"""The tenants' WordPress image (deploy/wordpress) holds the plugins: the install Job downloads
nothing, and the tenant's pods may reach DNS, the database, S3 and Authentik only."""

import re
import subprocess
from pathlib import Path

import pytest

from provisioning.manifests import network_manifests
from provisioning.manifests.wordpress import (
    ABILITIES_PLUGIN,
    INSTALL_SCRIPT,
    MCP_PLUGIN,
    OIDC_PLUGIN,
    PLUGIN_SOURCE,
    S3_PLUGIN,
    install_job,
)
from provisioning.spec import spec_for
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

IMAGE = Path(__file__).resolve().parents[2] / "deploy" / "wordpress"


def lock() -> dict[str, tuple[str, str]]:
    rows = [line.split() for line in (IMAGE / "plugins.lock").read_text().splitlines()]
    return {row[0]: (row[1], row[2]) for row in rows if row and not row[0].startswith("#")}


def test_the_rendered_install_job_makes_no_download():
    pod = install_job(spec_for(TenantFactory(slug="shop")))["spec"]["template"]["spec"]
    script = pod["containers"][0]["command"][2]
    assert "plugin install" not in script
    assert not re.search(r"\b(curl|wget)\b|https?://", script)
    # wp-cli and the plugins come from the site's own image, core too.
    images = {c["image"] for c in pod["containers"] + pod["initContainers"]}
    assert images == {"tenant-wordpress:6.8"}


def test_every_plugin_the_portal_configures_is_pinned_in_the_image():
    pinned = lock()
    assert set(pinned) == {OIDC_PLUGIN, S3_PLUGIN, MCP_PLUGIN, ABILITIES_PLUGIN}
    for slug, (version, source) in pinned.items():
        assert re.fullmatch(r"\d+(\.\d+)+", version), f"{slug} needs an exact version"
        assert source == "wordpress.org" or source.startswith("github:")
    dockerfile = (IMAGE / "Dockerfile").read_text()
    assert f"{PLUGIN_SOURCE}/plugins.lock" in dockerfile
    for base in re.findall(r"^FROM (\S+)", dockerfile, re.M):
        assert ":latest" not in base and ":" in base
    assert "ARG WPCLI_VERSION=2." in dockerfile


@pytest.fixture
def site(tmp_path):
    """The install script run by sh in a scratch site, with a wp-cli that only logs."""
    source = tmp_path / "image-plugins"
    for slug in (OIDC_PLUGIN, S3_PLUGIN, MCP_PLUGIN, ABILITIES_PLUGIN):
        (source / slug).mkdir(parents=True)
        (source / slug / ".portal-version").write_text("1.0\n")
        (source / slug / f"{slug}.php").write_text("<?php // 1.0\n")
    root = tmp_path / "html"
    (root / "wp-content").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "wp.log"
    wp = bin_dir / "wp"
    # `plugin is-active` fails (so activate runs), `eval` as WP_EVAL says; the rest succeeds.
    wp.write_text(
        f'#!/bin/sh\necho "$*" >> {log}\n[ "$1" = eval ] && exit "${{WP_EVAL:-0}}"\n'
        '[ "$1 $2" != "plugin is-active" ]\n'
    )
    wp.chmod(0o755)

    job = install_job(spec_for(TenantFactory(slug="shop")))["spec"]["template"]["spec"]
    # The Job's own settings (the credentials are the Secret's, not needed by a logging wp).
    job_env = {e["name"]: e["value"] for e in job["containers"][0]["env"] if "value" in e}

    def run(**env) -> subprocess.CompletedProcess:
        script = INSTALL_SCRIPT.replace("cd /var/www/html", f"cd {root}")
        return subprocess.run(
            ["sh", "-c", script],
            env={
                **job_env,
                "WORDPRESS_ADMIN_PASSWORD": "x",
                "PATH": f"{bin_dir}:/usr/bin:/bin",
                "PLUGIN_SOURCE": str(source),
                **env,
            },
            capture_output=True,
            text=True,
            timeout=30,
        )

    return root / "wp-content" / "plugins", source, log, run


def test_the_install_copies_the_images_plugins_and_updates_them_in_place(site):
    plugins, source, log, run = site
    assert run().returncode == 0
    assert (plugins / OIDC_PLUGIN / f"{OIDC_PLUGIN}.php").read_text() == "<?php // 1.0\n"
    assert f"plugin activate {OIDC_PLUGIN}" in log.read_text()
    assert not (plugins / MCP_PLUGIN).exists()  # only with the pipeline

    # A site's hand-edited copy of the same version stays; a new version in the image replaces it.
    (plugins / S3_PLUGIN / "local.txt").write_text("kept")
    assert run().returncode == 0
    assert (plugins / S3_PLUGIN / "local.txt").exists()
    (source / S3_PLUGIN / ".portal-version").write_text("1.1\n")
    assert run(PIPELINE_ENABLED="true").returncode == 0
    assert not (plugins / S3_PLUGIN / "local.txt").exists()
    assert (plugins / S3_PLUGIN / ".portal-version").read_text() == "1.1\n"
    assert (plugins / MCP_PLUGIN / ".portal-version").exists()
    # The Abilities API before the MCP plugin, which does nothing without it.
    activated = [
        line.split()[2] for line in log.read_text().splitlines() if "plugin activate" in line
    ]
    assert activated[-2:] == [ABILITIES_PLUGIN, MCP_PLUGIN]
    # Switched off, both go.
    assert run().returncode == 0
    deleted = [line.split()[2] for line in log.read_text().splitlines() if "plugin delete" in line]
    assert deleted[-2:] == [MCP_PLUGIN, ABILITIES_PLUGIN]


def test_the_pipeline_on_a_site_older_than_the_abilities_api_fails_the_job_saying_why(site):
    plugins, source, log, run = site
    done = run(PIPELINE_ENABLED="true", WP_EVAL="1")  # version_compare says below 6.8
    assert done.returncode == 1
    assert "The content pipeline needs WordPress 6.8 or later (the Abilities API" in done.stderr
    assert not (plugins / MCP_PLUGIN).exists() and not (plugins / ABILITIES_PLUGIN).exists()


def test_an_image_without_the_plugins_fails_the_job_saying_which_image(site):
    plugins, source, log, run = site
    (source / S3_PLUGIN / ".portal-version").unlink()
    done = run()
    assert done.returncode == 1
    assert f"The image has no plugin {S3_PLUGIN}: build PORTAL_WORDPRESS_IMAGE" in done.stderr


def egress(settings_changes: dict, settings) -> dict[str, list]:
    for name, value in settings_changes.items():
        setattr(settings, name, value)
    policies = network_manifests(spec_for(TenantFactory(slug="shop")))
    return {p["metadata"]["name"]: p["spec"].get("egress") for p in policies}


def test_tenant_egress_is_dns_database_s3_and_authentik_only(settings):
    rules = egress(
        {
            "PORTAL_MARIADB_URL": "mysql://portal@10.7.0.5:3307/",
            "PORTAL_S3_ENDPOINT_URL": "https://s3.eu-central-3.ionoscloud.com",
            "PORTAL_AUTHENTIK_URL": "https://auth.example.com:8443",
        },
        settings,
    )
    ports = [r["ports"][0]["port"] for r in rules["allow-egress-platform-services"]]
    assert ports == [3307, 443, 8443]
    # The install Job's own policy allows nothing beyond what every pod of the tenant gets.
    assert rules["allow-install-downloads"] is None
    allowed = [r for name, rs in rules.items() if rs for r in rs]
    assert len(allowed) == 4  # DNS, MariaDB, S3, Authentik


def test_an_in_cluster_authentik_is_reached_in_its_namespace_only(settings):
    rules = egress({"PORTAL_AUTHENTIK_URL": "http://authentik-server.authentik.svc"}, settings)
    authentik = rules["allow-egress-platform-services"][-1]
    assert authentik == {
        "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "authentik"}}}]
    }


def test_configured_ports_win(settings):
    rules = egress(
        {"PORTAL_EGRESS_S3_PORT": 9000, "PORTAL_S3_ENDPOINT_URL": "https://s3.example"},
        settings,
    )
    assert rules["allow-egress-platform-services"][1]["ports"][0]["port"] == 9000
