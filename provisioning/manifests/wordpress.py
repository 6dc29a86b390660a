"""WordPress of one tenant: Deployment, Service, content volume, Ingress and the install Job."""

import hashlib
import json
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings

from provisioning import authentikurls, media
from provisioning import secrets as keys
from provisioning.manifests.common import (
    COMPONENT_INSTALL,
    COMPONENT_UPDATE_DB,
    COMPONENT_WEB,
    cpu,
    labels,
    memory,
    meta,
    selector,
    storage,
)
from provisioning.manifests.namespace import SERVICE_ACCOUNT
from provisioning.spec import TenantSpec
from provisioning.tenanturl import tenant_url

NAME = "wordpress"
# While the tenant is suspended its host is routed here: a Service naming the platform's
# maintenance server, so the page is served without any of the tenant's pods.
MAINTENANCE = "wordpress-suspended"
CONTENT_CLAIM = "wordpress-content"
TLS_SECRET = "wordpress-tls"
INSTALL_PREFIX = "wordpress-install-"
UPDATE_DB_PREFIX = "wordpress-update-db-"
# The plugins, each pinned to a version in the tenant image (deploy/wordpress/plugins.lock).
OIDC_PLUGIN = "daggerhart-openid-connect-generic"
S3_PLUGIN = "amazon-s3-and-cloudfront"
# The AI content pipeline's MCP server in WordPress: WordPress/mcp-adapter, the project's
# canonical MCP implementation (in the tenant image like the others, from its GitHub release:
# deploy/wordpress/plugins.lock).
# Automattic's wordpress-mcp was the first choice but is deprecated in its favour
# (github.com/Automattic/wordpress-mcp/issues/104, "no further feature development"). It serves
# /wp-json/mcp/mcp-adapter-default-server; which user may call it is the mu-plugin's business.
MCP_PLUGIN = "mcp-adapter"
# mcp-adapter runs on the Abilities API, in WordPress core from 6.9 (core.trac.wordpress.org
# ticket #64098; developer.wordpress.org/apis/abilities-api/getting-started/). There the image
# carries mcp-adapter 0.6.0 or later, which requires 6.9, and no Abilities API plugin (the
# install Job removes a copy left from 6.8). On 6.8 the Abilities API plugin
# (WordPress/abilities-api 0.4.0, the API 6.9 took in, archived since) with mcp-adapter 0.5.0,
# the last release that runs on it. That plugin needs 6.8, so the pipeline can't be switched on
# for a site on 6.6 or 6.7. plugins.lock says which image gets which (its wordpress>=/< bounds).
ABILITIES_PLUGIN = "abilities-api"
ABILITIES_MIN_WORDPRESS = "6.8"
ABILITIES_CORE_WORDPRESS = "6.9"
# The WordPress user the pipeline publishes as (an author: own posts only, no settings).
PIPELINE_USER = "content-pipeline"
# Where the image keeps the plugins at their pinned versions (deploy/wordpress/Dockerfile).
PLUGIN_SOURCE = "/usr/src/portal-plugins"
WWW_DATA = 33  # the user (and group) the official images own their files as

# Read by wp-config.php (the official image evals WORDPRESS_CONFIG_EXTRA): plugin settings come
# from the environment, so the credentials stay in the Secret and out of every manifest.
CONFIG_EXTRA = """\
define('WP_HOME', getenv('WP_URL'));
define('WP_SITEURL', getenv('WP_URL'));
define('OIDC_CLIENT_ID', getenv('OIDC_CLIENT_ID') ?: '');
define('OIDC_CLIENT_SECRET', getenv('OIDC_CLIENT_SECRET') ?: '');
define('OIDC_ENDPOINT_LOGIN_URL', getenv('OIDC_PUBLIC_URL') . '/application/o/authorize/');
define('OIDC_ENDPOINT_TOKEN_URL', getenv('OIDC_BASE_URL') . '/application/o/token/');
define('OIDC_ENDPOINT_USERINFO_URL', getenv('OIDC_BASE_URL') . '/application/o/userinfo/');
define('OIDC_ENDPOINT_LOGOUT_URL', getenv('OIDC_ISSUER') . 'end-session/');
// OpenID Connect Generic checks an ID token's RS256 signature against these keys, and its
// issuer and audience (the client id), from 3.11.0 on; 3.10 checked none of them.
define('OIDC_ENDPOINT_JWKS_URL', getenv('OIDC_JWKS_URL'));
define('OIDC_ISSUER', getenv('OIDC_ID_TOKEN_ISSUER'));
define('OIDC_CLIENT_SCOPE', 'openid email profile');
define('OIDC_LOGIN_TYPE', 'button');
// Never hand an existing account (user 1, the install's admin) to whoever shows its e-mail:
// a sign-in is linked by Authentik's subject only, and a new one gets a new user.
define('OIDC_LINK_EXISTING_USERS', false);
define('OIDC_CREATE_IF_DOES_NOT_EXIST', true);
define('AS3CF_SETTINGS', serialize([
    'provider' => 'aws',
    'access-key-id' => getenv('S3_ACCESS_KEY_ID') ?: '',
    'secret-access-key' => getenv('S3_SECRET_ACCESS_KEY') ?: '',
    'bucket' => getenv('S3_BUCKET'),
    'region' => getenv('S3_REGION'),
    'enable-object-prefix' => true,
    'object-prefix' => getenv('S3_PREFIX'),
    'copy-to-s3' => true,
    'serve-from-s3' => true,
    'remove-local-file' => true,
    // URLs on the platform's delivery host, not <bucket>.s3.<region>.amazonaws.com: only a
    // delivery provider other than 'storage' takes a delivery domain.
    'delivery-provider' => 'other',
    'enable-delivery-domain' => true,
    'delivery-domain' => getenv('S3_DELIVERY_DOMAIN'),
    'force-https' => getenv('S3_DELIVERY_HTTPS') === 'true',
    // No ACL on upload: reads come from the bucket policy, and buckets whose object ownership
    // is enforced refuse ACLs. Unset, the plugin asks the bucket and sends ACLs when it can't
    // tell (IONOS answers no public-access-block); the mu-plugin drops the default ACL as well.
    'use-bucket-acls' => false,
]));
if (!empty($_SERVER['HTTP_X_FORWARDED_PROTO']) && $_SERVER['HTTP_X_FORWARDED_PROTO'] === 'https') {
    $_SERVER['HTTPS'] = 'on';
}
"""

# The update-db Job's script: the schema of the image's core, and the version it ends on (for
# the Job's log; the step writes the Job's outcome into the run's).
UPDATE_DB_SCRIPT = """\
set -eu
cd /var/www/html
wp core update-db --skip-plugins --skip-themes
echo "database version $(wp option get db_version --skip-plugins --skip-themes)"
"""

# A staging site's extra settings (only a clone's manifests carry them, so the others' pods
# and install Jobs stay as they are): WordPress's pseudo-cron off in wp-config, and a mu-plugin
# that keeps search engines and visitors out and sends no mail.
STAGING_CONFIG = "define('DISABLE_WP_CRON', true);\n"
STAGING_SCRIPT = """\
cat > wp-content/mu-plugins/portal-staging.php <<'PHP'
<?php
// Written by the tenant portal: this site is a staging clone. Search engines are asked to
// stay away, nobody is mailed, and only people signed in (through Authentik) see it. Only a
// clone's pods say WP_STAGING: a promote copies this file to the original, where it is inert.
if (getenv('WP_STAGING') !== 'true') {
    return;
}
add_filter('pre_option_blog_public', '__return_zero');
add_filter('wp_robots', 'wp_robots_no_robots');
add_filter('pre_wp_mail', '__return_false');
add_action('template_redirect', function () {
    if (!is_user_logged_in()) {
        auth_redirect();
    }
});
PHP
"""

# The pipeline's guard and webhook caller, and its content abilities for MCP, written into
# mu-plugins by the install Job.
PIPELINE_MU_PLUGIN = (Path(__file__).with_name("portal-pipeline.php")).read_text()
ABILITIES_MU_PLUGIN = (Path(__file__).with_name("portal-pipeline-abilities.php")).read_text()

# The install Job's script: every command is a no-op on an installed, configured site.
INSTALL_SCRIPT = """\
set -eu
cd /var/www/html
# --skip-plugins: a plugin that doesn't fit the core (below) can't stop the check.
wp core is-installed --skip-plugins || wp core install --url="$WP_URL" --title="$WP_TITLE" \\
  --admin_user="$WP_ADMIN_USER" --admin_password="$WORDPRESS_ADMIN_PASSWORD" \\
  --admin_email="$WP_ADMIN_EMAIL" --skip-email
# Plugins come from the image (deploy/wordpress, pinned and checked when it was built): copied
# into the site's wp-content when its copy is of another version. Nothing is downloaded.
portal_plugin() {
  src="$PLUGIN_SOURCE/$1"
  if [ ! -f "$src/.portal-version" ]; then
    echo "The image has no plugin $1: build PORTAL_WORDPRESS_IMAGE from deploy/wordpress." >&2
    exit 1
  fi
  if ! cmp -s "$src/.portal-version" "wp-content/plugins/$1/.portal-version"; then
    rm -rf "wp-content/plugins/$1"
    cp -R "$src" "wp-content/plugins/$1"
  fi
  wp plugin is-active "$1" || wp plugin activate "$1"
}
# A plugin the site should not have (any more): deactivated and deleted if it is there, without
# loading it (--skip-plugins), so a plugin that no longer fits the core can't stop its removal.
portal_plugin_gone() {
  if wp plugin is-installed "$1" --skip-plugins="$1"; then
    wp plugin deactivate "$1" --skip-plugins="$1" || true
    wp plugin delete "$1" --skip-plugins="$1"
  fi
}
# Whether the site's core is of this version or later (asked with no plugin loaded).
core_at_least() {
  wp eval --skip-plugins "exit(version_compare(get_bloginfo('version'), '$1', '>=') ? 0 : 1);"
}
mkdir -p wp-content/plugins
# From 6.9 the Abilities API is core's: the plugin's copy (a site upgraded from 6.8) goes first,
# before a command loads it beside core's.
if core_at_least "$ABILITIES_CORE_WORDPRESS"; then
  portal_plugin_gone "$ABILITIES_PLUGIN"
fi
for plugin in "$OIDC_PLUGIN" "$S3_PLUGIN"; do
  portal_plugin "$plugin"
done
mkdir -p wp-content/mu-plugins
cat > wp-content/mu-plugins/portal-s3-endpoint.php <<'PHP'
<?php
// Written by the tenant portal: WP Offload Media talks to the platform's S3 endpoint
// and uploads without ACLs.
add_filter('as3cf_aws_s3_client_args', function ($args) {
    if (getenv('S3_ENDPOINT_URL')) {
        $args['endpoint'] = getenv('S3_ENDPOINT_URL');
        $args['use_path_style_endpoint'] = true;
    }
    return $args;
});
// No canned ACL on upload (the plugin sends public-read by default).
add_filter('as3cf_aws_s3_default_acl', '__return_null');
PHP
cat > wp-content/mu-plugins/portal-oidc-checks.php <<'PHP'
<?php
// Written by the tenant portal: OpenID Connect Generic (3.11+) verifies every ID token's
// signature with the provider's keys, its issuer and its audience; these settings are forced
// here, so nobody turns the checks off on the settings page. Its SSRF guard refuses private
// addresses, so an in-cluster Authentik is allowed by name (OIDC_INTERNAL_IDP), nothing else.
add_filter('openid-connect-generic-settings', function ($settings) {
    $settings->endpoint_jwks = (string) getenv('OIDC_JWKS_URL');
    $settings->issuer = (string) getenv('OIDC_ID_TOKEN_ISSUER');
    $settings->allow_internal_idp = getenv('OIDC_INTERNAL_IDP') === 'true' ? 1 : 0;
    return $settings;
});
PHP
cat > wp-content/mu-plugins/portal-sso-roles.php <<'PHP'
<?php
// Written by the tenant portal: roles follow the sign-in's preferred_username claim. Authentik
// lets in only the tenant's group; its owner is administrator, everyone else WP_MEMBER_ROLE.
function portal_sso_role($user, $claim) {
    if (!($user instanceof WP_User) || !is_array($claim)) {
        return;
    }
    $name = isset($claim['preferred_username']) ? (string) $claim['preferred_username'] : '';
    $owner = (string) getenv('WP_OWNER_USERNAME');
    $role = ($owner !== '' && strcasecmp($name, $owner) === 0)
        ? 'administrator' : (getenv('WP_MEMBER_ROLE') ?: 'editor');
    if ($user->roles !== [$role]) {
        $user->set_role($role);
    }
}
// Both hooks of OpenID Connect Generic (3.10 and 3.11): a new user, and every later sign-in.
add_action('openid-connect-generic-user-create', 'portal_sso_role', 10, 2);
add_action('openid-connect-generic-update-user-using-current-claim', 'portal_sso_role', 10, 2);
PHP
if [ "${PIPELINE_ENABLED:-false}" = "true" ]; then
  if ! core_at_least "$ABILITIES_MIN_WORDPRESS"; then
    echo "The content pipeline needs WordPress $ABILITIES_MIN_WORDPRESS or later \
(the Abilities API its MCP plugin runs on)." >&2
    exit 1
  fi
  if ! core_at_least "$ABILITIES_CORE_WORDPRESS"; then
    # The Abilities API plugin first: mcp-adapter does nothing without it.
    portal_plugin "$ABILITIES_PLUGIN"
  fi
  portal_plugin "$MCP_PLUGIN"
  wp user get "$PIPELINE_USER" >/dev/null 2>&1 || wp user create "$PIPELINE_USER" \
    "$PIPELINE_USER@pipeline.invalid" --role=author
  cat > wp-content/mu-plugins/portal-pipeline.php <<'PHP'
{mu_plugin}PHP
  cat > wp-content/mu-plugins/portal-pipeline-abilities.php <<'PHP'
{abilities_mu_plugin}PHP
else
  rm -f wp-content/mu-plugins/portal-pipeline.php \
    wp-content/mu-plugins/portal-pipeline-abilities.php
  portal_plugin_gone "$MCP_PLUGIN"
  portal_plugin_gone "$ABILITIES_PLUGIN"
  if wp user get "$PIPELINE_USER" >/dev/null 2>&1; then
    wp user delete "$PIPELINE_USER" --reassign=1 --yes
  fi
fi
""".replace("{mu_plugin}", PIPELINE_MU_PLUGIN).replace("{abilities_mu_plugin}", ABILITIES_MU_PLUGIN)


def image(spec: TenantSpec) -> str:
    return settings.PORTAL_WORDPRESS_IMAGE.format(version=spec.wordpress_version)


def db_host() -> str:
    if settings.PORTAL_WORDPRESS_DB_HOST:
        return settings.PORTAL_WORDPRESS_DB_HOST
    if settings.PORTAL_MARIADB_URL:
        parts = urlsplit(settings.PORTAL_MARIADB_URL)
        return f"{parts.hostname}:{parts.port or 3306}"
    return "mariadb:3306"


def _secret_env(key: str, optional: bool = False) -> dict:
    ref = {"name": keys.SECRET_NAME, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": key, "valueFrom": {"secretKeyRef": ref}}


# The credentials the site's pods read from the Secret: a change of any must restart them.
POD_CREDENTIALS = (
    keys.DB_PASSWORD,
    *keys.WP_SALT_KEYS,
    keys.OIDC_CLIENT_ID,
    keys.OIDC_CLIENT_SECRET,
    keys.S3_ACCESS_KEY_ID,
    keys.S3_SECRET_ACCESS_KEY,
)
# On the pod template: a new value (the credentials' fingerprint) rolls the Deployment.
CREDENTIALS_ANNOTATION = "portal.wp.ionos/credentials"


def environment(spec: TenantSpec) -> list[dict]:
    plain = {
        "WORDPRESS_DB_HOST": db_host(),
        "WORDPRESS_DB_NAME": spec.db_name,
        "WORDPRESS_DB_USER": spec.db_user,
        "WP_URL": tenant_url(spec),
        # Read by the portal-sso-roles mu-plugin: who is administrator, what the others are.
        "WP_OWNER_USERNAME": spec.owner_username,
        "WP_MEMBER_ROLE": settings.PORTAL_WORDPRESS_MEMBER_ROLE,
        # The browser is sent to the public address; the pod itself calls the API address.
        "OIDC_PUBLIC_URL": authentikurls.public_url(),
        "OIDC_BASE_URL": authentikurls.api_url(),
        "OIDC_ISSUER": authentikurls.issuer(spec),
        # What the plugin checks ID tokens with (portal-oidc-checks, CONFIG_EXTRA).
        "OIDC_ID_TOKEN_ISSUER": authentikurls.id_token_issuer(spec),
        "OIDC_JWKS_URL": authentikurls.jwks_url(spec),
        "OIDC_INTERNAL_IDP": "true" if authentikurls.is_internal(authentikurls.api_url()) else "",
        "S3_BUCKET": spec.s3_bucket,
        "S3_PREFIX": spec.s3_prefix,
        "S3_REGION": settings.PORTAL_S3_REGION,
        "S3_ENDPOINT_URL": settings.PORTAL_S3_ENDPOINT_URL,
        "S3_DELIVERY_DOMAIN": media.delivery_domain(spec),
        "S3_DELIVERY_HTTPS": "true" if media.delivery_https() else "false",
        "WORDPRESS_CONFIG_EXTRA": CONFIG_EXTRA + (STAGING_CONFIG if spec.staging else ""),
    }
    if spec.staging:
        plain["WP_STAGING"] = "true"  # read by the portal-staging mu-plugin
    env = [{"name": name, "value": value} for name, value in plain.items()]
    env.append(_secret_env(keys.DB_PASSWORD))
    env += [_secret_env(key) for key in keys.WP_SALT_KEYS]
    # Written by the sso and storage steps, which may run in plan mode: WordPress still starts.
    env += [
        _secret_env(key, optional=True)
        for key in (
            keys.OIDC_CLIENT_ID,
            keys.OIDC_CLIENT_SECRET,
            keys.S3_ACCESS_KEY_ID,
            keys.S3_SECRET_ACCESS_KEY,
        )
    ]
    if spec.pipeline:
        env += pipeline_environment(spec)
    return env


# The pipeline's credentials the site reads (only while the tenant's switch is on).
PIPELINE_CREDENTIALS = (
    keys.PIPELINE_CLIENT_ID,
    keys.PIPELINE_CLIENT_SECRET,
    keys.PIPELINE_WEBHOOK_SECRET,
)


def pipeline_environment(spec: TenantSpec) -> list[dict]:
    """What the mu-plugin reads: whom to let in (the pipeline client) and where to confirm."""
    plain = {
        "PIPELINE_TENANT": spec.slug,
        "PIPELINE_USER": PIPELINE_USER,
        "PIPELINE_WEBHOOK_URL": webhook_url(),
    }
    env = [{"name": name, "value": value} for name, value in plain.items()]
    return env + [_secret_env(key, optional=True) for key in PIPELINE_CREDENTIALS]


def webhook_url() -> str:
    return settings.PORTAL_PIPELINE_WEBHOOK_URL or (
        f"http://web.{settings.PORTAL_PIPELINE_WEBHOOK_NAMESPACE}.svc/hooks/pipeline/"
    )


def resources(spec: TenantSpec) -> dict:
    plan = spec.plan
    return {
        "requests": {
            "cpu": cpu(plan.cpu_request_millicores),
            "memory": memory(plan.memory_request_mib),
        },
        "limits": {"cpu": cpu(plan.cpu_limit_millicores), "memory": memory(plan.memory_limit_mib)},
    }


def pod_security() -> dict:
    # The official Apache image runs as root only to bind port 80; as www-data it binds 80 when
    # the pod allows unprivileged ports from 0 — the sysctl the image's documentation gives for
    # running as an arbitrary user, and one Pod Security "baseline" and "restricted" permit.
    # That keeps the stock image (no rebuilt variant, no Apache config to patch) non-root.
    return {
        "runAsNonRoot": True,
        "runAsUser": WWW_DATA,
        "runAsGroup": WWW_DATA,
        "fsGroup": WWW_DATA,
        "seccompProfile": {"type": "RuntimeDefault"},
        "sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}],
    }


CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
}


def same_node_as_web(spec: TenantSpec) -> dict | None:
    # A ReadWriteOnce volume mounts on one node only: every pod that mounts it goes there.
    if settings.PORTAL_STORAGE_ACCESS_MODE != "ReadWriteOnce":
        return None
    return {
        "podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchLabels": selector(spec, COMPONENT_WEB)},
                    "topologyKey": "kubernetes.io/hostname",
                }
            ]
        }
    }


def content_volume() -> dict:
    return {"name": "content", "persistentVolumeClaim": {"claimName": CONTENT_CLAIM}}


def deployment(spec: TenantSpec, credentials: str = "") -> dict:
    """The site's Deployment; credentials: the fingerprint of the Secret's values it reads
    (environment variables from a Secret are read once, when a container starts)."""
    pod = {
        "serviceAccountName": SERVICE_ACCOUNT,
        "automountServiceAccountToken": False,
        "securityContext": pod_security(),
        "containers": [
            {
                "name": "wordpress",
                "image": image(spec),
                "ports": [{"name": "http", "containerPort": 80}],
                "env": environment(spec),
                "resources": resources(spec),
                "securityContext": CONTAINER_SECURITY,
                # Core comes from the image (an upgrade is a new image); only wp-content persists.
                "volumeMounts": [{"name": "content", "mountPath": "/var/www/html/wp-content"}],
                "readinessProbe": {
                    "httpGet": {"path": "/wp-login.php", "port": "http"},
                    "periodSeconds": 10,
                    "timeoutSeconds": 5,
                    "failureThreshold": 3,
                },
                # Liveness asks Apache only: a database outage must not restart every pod.
                "livenessProbe": {
                    "tcpSocket": {"port": "http"},
                    "initialDelaySeconds": 30,
                    "periodSeconds": 20,
                    "failureThreshold": 3,
                },
            }
        ],
        "volumes": [content_volume()],
    }
    affinity = same_node_as_web(spec)
    if affinity:
        pod["affinity"] = affinity
    template_meta = {"labels": labels(spec, COMPONENT_WEB)}
    if credentials:
        template_meta["annotations"] = {CREDENTIALS_ANNOTATION: credentials}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(spec, NAME, COMPONENT_WEB),
        "spec": {
            "replicas": 0 if spec.suspended else spec.plan.replicas,
            "selector": {"matchLabels": selector(spec, COMPONENT_WEB)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
            },
            "progressDeadlineSeconds": 600,
            "template": {"metadata": template_meta, "spec": pod},
        },
    }


def service(spec: TenantSpec) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(spec, NAME, COMPONENT_WEB),
        "spec": {
            "type": "ClusterIP",
            "selector": selector(spec, COMPONENT_WEB),
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    }


def content_claim(spec: TenantSpec) -> dict:
    claim = {
        "accessModes": [settings.PORTAL_STORAGE_ACCESS_MODE],
        "resources": {"requests": {"storage": storage(spec.plan.storage_gib)}},
    }
    if settings.PORTAL_STORAGE_CLASS:
        claim["storageClassName"] = settings.PORTAL_STORAGE_CLASS
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta(spec, CONTENT_CLAIM, COMPONENT_WEB),
        "spec": claim,
    }


def maintenance_service(spec: TenantSpec) -> dict:
    """An ExternalName Service naming the platform's maintenance server; ingress-nginx proxies
    to ExternalName backends (its e2e suite: kubernetes.github.io/ingress-nginx/e2e-tests)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(spec, MAINTENANCE, COMPONENT_WEB),
        "spec": {
            "type": "ExternalName",
            "externalName": settings.PORTAL_MAINTENANCE_HOST,
            "ports": [{"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"}],
        },
    }


def _backend(spec: TenantSpec) -> dict:
    if spec.suspended:
        return {"service": {"name": MAINTENANCE, "port": {"number": 80}}}
    return {"service": {"name": NAME, "port": {"name": "http"}}}


def ingress(spec: TenantSpec) -> dict:
    annotations = {
        "nginx.ingress.kubernetes.io/limit-rps": str(settings.PORTAL_INGRESS_LIMIT_RPS),
        "nginx.ingress.kubernetes.io/limit-connections": str(
            settings.PORTAL_INGRESS_LIMIT_CONNECTIONS
        ),
        "nginx.ingress.kubernetes.io/proxy-body-size": settings.PORTAL_INGRESS_BODY_SIZE,
    }
    # One rule per host: the site's own and each custom host proven by its DNS TXT record.
    rules = [
        {
            "host": host,
            "http": {
                "paths": [
                    {
                        "path": "/",
                        "pathType": "Prefix",
                        "backend": _backend(spec),
                    }
                ]
            },
        }
        for host in spec.hosts
    ]
    ingress_spec = {"ingressClassName": settings.PORTAL_INGRESS_CLASS, "rules": rules}
    if settings.PORTAL_CERT_ISSUER:
        annotations["cert-manager.io/cluster-issuer"] = settings.PORTAL_CERT_ISSUER
        annotations["nginx.ingress.kubernetes.io/ssl-redirect"] = "true"
        ingress_spec["tls"] = [{"hosts": list(spec.hosts), "secretName": TLS_SECRET}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": meta(spec, NAME, COMPONENT_WEB, annotations),
        "spec": ingress_spec,
    }


def install_job(spec: TenantSpec) -> dict:
    """The one-off Job that installs and configures WordPress.

    A Job's template can't change, so its name carries a hash of the template: a change (new
    version, title, settings) makes a new Job, and the old one is deleted by the step.
    """
    env = [
        *environment(spec),
        {"name": "WP_TITLE", "value": spec.display_name},
        {"name": "WP_ADMIN_USER", "value": "admin"},
        {"name": "WP_ADMIN_EMAIL", "value": spec.admin_email},
        {"name": "OIDC_PLUGIN", "value": OIDC_PLUGIN},
        {"name": "S3_PLUGIN", "value": S3_PLUGIN},
        {"name": "MCP_PLUGIN", "value": MCP_PLUGIN},
        {"name": "ABILITIES_PLUGIN", "value": ABILITIES_PLUGIN},
        {"name": "ABILITIES_MIN_WORDPRESS", "value": ABILITIES_MIN_WORDPRESS},
        {"name": "ABILITIES_CORE_WORDPRESS", "value": ABILITIES_CORE_WORDPRESS},
        {"name": "PLUGIN_SOURCE", "value": PLUGIN_SOURCE},
        # The script removes the pipeline's user when the switch is off: it needs the name
        # then too (under `set -u` its absence failed every install without the pipeline).
        *([] if spec.pipeline else [{"name": "PIPELINE_USER", "value": PIPELINE_USER}]),
        {"name": "PIPELINE_ENABLED", "value": "true" if spec.pipeline else "false"},
        _secret_env(keys.WP_ADMIN_PASSWORD),
    ]
    script = INSTALL_SCRIPT + (STAGING_SCRIPT if spec.staging else "")
    return _wp_cli_job(spec, INSTALL_PREFIX, COMPONENT_INSTALL, "install", script, env)


def update_db_job(spec: TenantSpec) -> dict:
    """The one-off Job that brings the database to the schema of the site's version (`wp core
    update-db`), started by the step once the rollout is done; one per image, like the install
    Job. Plugins and themes stay out of it: one that breaks on the new core can't stop the
    schema update (the site's own pods show that break)."""
    job = _wp_cli_job(
        spec, UPDATE_DB_PREFIX, COMPONENT_UPDATE_DB, "update-db", UPDATE_DB_SCRIPT,
        environment(spec),
    )  # fmt: skip
    # Named after the image alone: a plan's new resources make no second update of one schema.
    job["metadata"]["name"] = UPDATE_DB_PREFIX + _digest(image(spec))
    return job


def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:10]


def _wp_cli_job(
    spec: TenantSpec, prefix: str, component: str, container: str, script: str, env: list
) -> dict:
    core_mount = {"name": "core", "mountPath": "/var/www/html"}
    content_mount = {"name": "content", "mountPath": "/var/www/html/wp-content"}
    pod = {
        "restartPolicy": "Never",
        "serviceAccountName": SERVICE_ACCOUNT,
        "automountServiceAccountToken": False,
        "securityContext": {k: v for k, v in pod_security().items() if k != "sysctls"},
        # wp-cli needs the same core and wp-config.php as the site: copied from its image.
        "initContainers": [
            {
                "name": "core",
                "image": image(spec),
                "command": [
                    "sh",
                    "-c",
                    "cp -a /usr/src/wordpress/. /var/www/html/ && "
                    "cp /usr/src/wordpress/wp-config-docker.php /var/www/html/wp-config.php",
                ],
                "resources": resources(spec),
                "securityContext": CONTAINER_SECURITY,
                "volumeMounts": [core_mount],
            }
        ],
        "containers": [
            {
                "name": container,
                # The site's own image: wp-cli and the plugins are in it (deploy/wordpress).
                "image": image(spec),
                "command": ["sh", "-c", script],
                "env": env,
                "resources": resources(spec),
                "securityContext": CONTAINER_SECURITY,
                "volumeMounts": [core_mount, content_mount],
            }
        ],
        "volumes": [{"name": "core", "emptyDir": {}}, content_volume()],
    }
    affinity = same_node_as_web(spec)
    if affinity:
        pod["affinity"] = affinity
    template = {"metadata": {"labels": labels(spec, component)}, "spec": pod}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta(spec, prefix + _digest(template), component),
        "spec": {"backoffLimit": 4, "activeDeadlineSeconds": 1200, "template": template},
    }


def wordpress_manifests(spec: TenantSpec, credentials: str = "") -> list[dict]:
    if spec.suspended:
        # The host is handed to the maintenance page before the pods go.
        return [
            content_claim(spec),
            maintenance_service(spec),
            service(spec),
            ingress(spec),
            deployment(spec, credentials),
            install_job(spec),
        ]
    return [
        content_claim(spec),
        deployment(spec, credentials),
        service(spec),
        ingress(spec),
        install_job(spec),
    ]
