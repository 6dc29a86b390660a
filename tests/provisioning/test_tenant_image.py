"""The tenants' WordPress image (deploy/wordpress) holds the plugins: the install Job downloads
nothing, and the tenant's pods may reach DNS, the database, S3 and Authentik only."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from portal.wordpress_versions import OFFERED
from provisioning.manifests import network_manifests
from provisioning.manifests.wordpress import (
    ABILITIES_CORE_WORDPRESS,
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
from tests.fakes.wordpress import php, php_string

pytestmark = pytest.mark.django_db

IMAGE = Path(__file__).resolve().parents[2] / "deploy" / "wordpress"


def lock_for(wordpress: str, text: str | None = None) -> dict[str, tuple[str, str]] | str:
    """slug -> (version, source) of the lock's lines the image of this WordPress version takes,
    read by deploy/wordpress/plugins-lock.php under PHP as the image build reads them (its
    refusal, a sentence, when the lock is wrong)."""
    text = (IMAGE / "plugins.lock").read_text() if text is None else text
    code = (
        f"require {str(IMAGE / 'plugins-lock.php')!r};"
        f" echo json_encode(portal_lock_entries({php_string(text)}, {php_string(wordpress)}));"
    )
    done = subprocess.run(
        [php(), "-r", code], capture_output=True, text=True, timeout=30, check=True
    )
    entries = json.loads(done.stdout)
    if isinstance(entries, str):
        return entries
    return {slug: (version, source) for slug, version, source, _ in entries}


def release(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


# wp-cli commands that fetch from wordpress.org (or any URL they are given).
DOWNLOADING = re.compile(
    r"^(core (download|update)\b(?!-db)|(plugin|theme) (install|update)|language |package install"
    r"|cli update)"
)


@pytest.mark.parametrize("pipeline", [False, True])
def test_the_rendered_install_job_makes_no_download(pipeline):
    job = install_job(spec_for(TenantFactory(slug="shop", content_pipeline=pipeline)))
    pod = job["spec"]["template"]["spec"]
    for container in pod["initContainers"] + pod["containers"]:
        script = " ".join(container.get("command", []) + container.get("args", []))
        assert not re.search(r"\b(curl|wget|git|composer|pip)\b|https?://", script)
        assert not re.search(
            r"\bwp (core (download|update )|(plugin|theme) (install|update)|language |package )",
            script,
        )
    # wp-cli and the plugins come from the site's own image, core too.
    images = {c["image"] for c in pod["containers"] + pod["initContainers"]}
    assert images == {"tenant-wordpress:6.8"}


def test_every_plugin_the_portal_configures_is_pinned_in_each_offered_image():
    for wordpress in OFFERED:
        pinned = lock_for(wordpress)
        if release(wordpress) >= release(ABILITIES_CORE_WORDPRESS):
            # The Abilities API is core's: no plugin for it, and an mcp-adapter that needs 6.9
            # (0.6.0 and later).
            assert set(pinned) == {OIDC_PLUGIN, S3_PLUGIN, MCP_PLUGIN}, wordpress
            assert release(pinned[MCP_PLUGIN][0]) >= (0, 6), wordpress
        else:
            # The Abilities API plugin and the last mcp-adapter that runs on it.
            assert set(pinned) == {OIDC_PLUGIN, S3_PLUGIN, MCP_PLUGIN, ABILITIES_PLUGIN}, wordpress
            assert pinned[MCP_PLUGIN][0] == "0.5.0" and pinned[ABILITIES_PLUGIN][0] == "0.4.0"
        for slug, (version, source) in pinned.items():
            assert re.fullmatch(r"\d+(\.\d+)+", version), f"{slug} needs an exact version"
            assert source == "wordpress.org" or source.startswith("github:")
    assert any(release(v) >= release(ABILITIES_CORE_WORDPRESS) for v in OFFERED)
    # A later 6.9.x or 7.x image takes the core's Abilities API too, and 6.8.x the plugin.
    assert ABILITIES_PLUGIN not in lock_for("7.0.1") and ABILITIES_PLUGIN in lock_for("6.8.3")
    dockerfile = (IMAGE / "Dockerfile").read_text()
    assert f"{PLUGIN_SOURCE}/plugins.lock" in dockerfile
    for base in re.findall(r"^FROM (\S+)", dockerfile, re.M):
        assert ":latest" not in base and ":" in base
    assert "ARG WPCLI_VERSION=2." in dockerfile


def test_the_build_picks_the_lock_lines_for_the_images_own_core(tmp_path):
    dockerfile = (IMAGE / "Dockerfile").read_text()
    # fetch-plugins.php gets the version the image's core says it is, read by this PHP.
    (code,) = re.findall(r"fetch-plugins\.php .*?\"\$\(php -r '([^']+)'\)\"", dockerfile, re.S)
    core = "/usr/src/wordpress/wp-includes/version.php"
    assert core in code
    version_php = tmp_path / "version.php"
    version_php.write_text("<?php\n$wp_version = '6.9.1';\n$wp_db_version = 60421;\n")
    done = subprocess.run(
        [php(), "-r", code.replace(core, str(version_php))],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    assert done.stdout == "6.9.1"


def test_the_lock_reader_refuses_a_lock_that_does_not_say_one_version_a_plugin():
    two = "mcp-adapter 0.7.2 wordpress.org wordpress>=6.8\nmcp-adapter 0.5.0 wordpress.org\n"
    assert lock_for("6.9", two) == "two lines of the lock hold for mcp-adapter on WordPress 6.9"
    ranged = "a 1.0 wordpress.org wordpress>=6.8 wordpress<6.9\nb 2.0 wordpress.org\n"
    assert set(lock_for("6.8.2", ranged)) == {"a", "b"} and set(lock_for("6.9", ranged)) == {"b"}
    assert lock_for("6.9", "a 1.0 wordpress.org wordpress=6.9\n").startswith(
        "a lock line's extra field is a SHA-256 or a wordpress<X / wordpress>=X bound"
    )
    assert lock_for("latest", ranged) == "not a WordPress version: 'latest'"


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
    # `plugin is-active` fails (so activate runs); `eval` runs its code (the last argument) under
    # PHP, get_bloginfo('version') answering WP_CORE; the rest succeeds.
    wp.write_text(
        f'#!/bin/sh\necho "$*" >> {log}\n'
        'if [ "$1" = eval ]; then\n  for code; do :; done\n'
        f"  exec {php()} -r 'function get_bloginfo($k) {{ return getenv(\"WP_CORE\"); }}'"
        '"$code"\n'
        "fi\n"
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
                "WP_CORE": "6.8",
                **env,
            },
            capture_output=True,
            text=True,
            timeout=30,
        )

    return root / "wp-content" / "plugins", source, log, run


def test_the_install_script_calls_no_downloading_wp_command(site):
    plugins, source, log, run = site
    assert run().returncode == 0
    assert run(PIPELINE_ENABLED="true").returncode == 0
    calls = log.read_text().splitlines()
    assert f"plugin activate {MCP_PLUGIN}" in calls  # the whole script ran
    assert [c for c in calls if DOWNLOADING.match(c)] == []


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


def test_on_69_the_pipeline_runs_on_cores_abilities_api_and_the_plugins_copy_goes(site):
    plugins, source, log, run = site
    # A site built on 6.8 with the pipeline: both plugins in its wp-content.
    assert run(PIPELINE_ENABLED="true").returncode == 0
    assert (plugins / ABILITIES_PLUGIN).exists()
    # Upgraded to 6.9, its image carries no Abilities API plugin (plugins.lock).
    (source / ABILITIES_PLUGIN / ".portal-version").unlink()
    (source / MCP_PLUGIN / ".portal-version").write_text("0.7.2\n")
    log.write_text("")
    assert run(PIPELINE_ENABLED="true", WP_CORE="6.9.1").returncode == 0
    lines = log.read_text().splitlines()
    # The plugin goes first, not loaded, before any command loads it beside core's API.
    first_loading = next(
        i for i, line in enumerate(lines) if "--skip-plugins" not in line and "core" not in line
    )
    gone = [i for i, line in enumerate(lines) if line.startswith("plugin delete abilities-api")]
    assert gone and gone[0] < first_loading
    assert lines[gone[0]] == f"plugin delete {ABILITIES_PLUGIN} --skip-plugins={ABILITIES_PLUGIN}"
    assert not any(f"plugin activate {ABILITIES_PLUGIN}" in line for line in lines)
    assert f"plugin activate {MCP_PLUGIN}" in lines
    assert (plugins / MCP_PLUGIN / ".portal-version").read_text() == "0.7.2\n"
    # A new site on 6.9 never gets the plugin.
    (plugins / ABILITIES_PLUGIN).rename(plugins.parent / "kept")
    assert run(PIPELINE_ENABLED="true", WP_CORE="6.9").returncode == 0
    assert not (plugins / ABILITIES_PLUGIN).exists()


def test_the_pipeline_on_a_site_older_than_the_abilities_api_fails_the_job_saying_why(site):
    plugins, source, log, run = site
    done = run(PIPELINE_ENABLED="true", WP_CORE="6.7.2")
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
