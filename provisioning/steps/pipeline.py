"""The pipeline step: a tenant's link to the AI content pipeline, while its switch is on."""

import base64
import json
from typing import Any

from django.conf import settings

from provisioning import authentikurls
from provisioning import secrets as keys
from provisioning.drivers import kubernetes
from provisioning.manifests.common import COMPONENT_WEB, meta, selector
from provisioning.manifests.wordpress import MCP_PLUGIN, NAME, webhook_url
from provisioning.schema import validate_all
from provisioning.steps.base import Looked, Outcome, Step
from provisioning.steps.pipeline_account import PipelineAccount
from provisioning.steps.sso import SsoStep
from provisioning.tenanturl import tenant_url

# WordPress/mcp-adapter's default server (see provisioning/manifests/wordpress.py, MCP_PLUGIN).
MCP_PATH = "/wp-json/mcp/mcp-adapter-default-server"
TENANT_POLICY = "allow-content-pipeline"
NETWORK = "networking.k8s.io/v1"


class PipelineClient(SsoStep):
    """The pipeline's OAuth2 client for this tenant in Authentik (`pipeline-<slug>`): the sso
    step's provider and application under another name, marker and pair of Secret keys. Its
    client id is the audience the tenant's WordPress accepts (the mu-plugin asks Authentik's
    introspection endpoint with these credentials, which answers only for this client's tokens).

    The pipeline does not sign in with this client's secret, which Authentik's
    client-credentials grant doesn't take alone, but as the tenant's service account
    (provisioning/steps/pipeline_account.py).
    """

    name = "pipeline"
    client_id_key = keys.PIPELINE_CLIENT_ID
    client_secret_key = keys.PIPELINE_CLIENT_SECRET

    @property
    def app_slug(self) -> str:
        return self.spec.pipeline_slug

    @property
    def publisher(self) -> str:
        return f"tenant-portal/{self.spec.slug}/pipeline"

    @property
    def redirect_uri(self) -> str:
        # The client-credentials flow redirects nowhere, but Authentik requires one URI: a path
        # of the tenant's that handles nothing, so a code sent there is never used.
        return tenant_url(self.spec, "/wp-json/portal-pipeline/no-login")

    @property
    def redirect_uris(self) -> list[str]:
        return [self.redirect_uri]  # nobody is sent back to the site: one URI, whatever hosts

    @property
    def access_group(self) -> str:
        return ""  # no person signs in with this client

    def _application_fields(self, provider_pk: int | str) -> dict[str, Any]:
        fields = super()._application_fields(provider_pk)
        fields["name"] = f"Content pipeline: {self.spec.display_name or self.spec.slug}"
        return fields


class PipelineStep(Step):
    """Owns, while the tenant's switch is on: the pipeline's Authentik client for it, its entry
    (key `<slug>.json`) in the Secret the pipeline reads its targets from, and the two
    NetworkPolicies that let exactly the pipeline's pods and the tenant's WordPress talk. The
    MCP plugin itself is the install Job's (provisioning/manifests/wordpress.py). Switched off,
    an apply removes all of it, as a deletion does; other tenants' entries are never touched."""

    name = "pipeline"
    title = "Content pipeline"
    plan_suffix = "json"

    def __init__(self, ctx):
        super().__init__(ctx)
        self.client = PipelineClient(ctx)
        self.account = PipelineAccount(ctx.spec, ctx.secrets, self.client.driver)

    def make_driver(self):
        # Real only when both systems are: the entry holds the client Authentik knows.
        if self.client.driver is None:
            return None
        return kubernetes.make_driver()

    @property
    def enabled(self) -> bool:
        return self.spec.present and self.spec.pipeline

    # --- what the tenant's resources should be ---------------------------------------------------

    @property
    def entry_key(self) -> str:
        return f"{self.spec.slug}.json"

    def entry(self, client_id: str, app_password: str, report_key: str) -> dict[str, str]:
        """What the pipeline needs to publish to this tenant (its whole target description).
        The token request Authentik's docs give for machine-to-machine sign-in is a form POST
        to token_url of grant_type=client_credentials, client_id, username and password (the
        app password); the provider's client secret is not part of it, so it isn't here.
        A failed publication is reported to report_url signed with report_key, a key of its
        own: the pipeline can't sign the site's confirmations, nor the site its errors."""
        service = f"http://{NAME}.{self.spec.namespace}.svc"
        return {
            "tenant": self.spec.slug,
            "site_url": tenant_url(self.spec, "/"),
            # In-cluster: the traffic the NetworkPolicies allow, not a round trip via the ingress.
            "api_base_url": f"{service}/wp-json/",
            "mcp_url": f"{service}{MCP_PATH}",
            "mcp_plugin": MCP_PLUGIN,
            "token_url": f"{authentikurls.api_url()}/application/o/token/",
            "grant_type": "client_credentials",
            "client_id": client_id,
            "username": self.account.username,
            "password": app_password,
            "audience": client_id,
            "report_url": webhook_url(),
            "report_key": report_key,
        }

    def policies(self) -> list[dict]:
        s = settings
        pipeline_pods = {
            "namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": s.PORTAL_PIPELINE_NAMESPACE}
            },
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": s.PORTAL_PIPELINE_APP}},
        }
        portal_pods = {
            "namespaceSelector": {
                "matchLabels": {"kubernetes.io/metadata.name": s.PORTAL_PIPELINE_WEBHOOK_NAMESPACE}
            },
            "podSelector": {
                "matchLabels": {
                    "app.kubernetes.io/name": "tenant-portal",
                    "app.kubernetes.io/component": "web",
                }
            },
        }
        http = [{"protocol": "TCP", "port": 80}]
        tenant_side = {
            "apiVersion": NETWORK,
            "kind": "NetworkPolicy",
            "metadata": meta(self.spec, TENANT_POLICY),
            "spec": {
                "podSelector": {"matchLabels": selector(self.spec, COMPONENT_WEB)},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [pipeline_pods], "ports": http}],
                # The confirmation webhook, on the portal's pods only.
                "egress": [
                    {
                        "to": [portal_pods],
                        "ports": [{"protocol": "TCP", "port": s.PORTAL_PIPELINE_WEBHOOK_PORT}],
                    }
                ],
            },
        }
        pipeline_side = {
            "apiVersion": NETWORK,
            "kind": "NetworkPolicy",
            "metadata": {
                "name": self.pipeline_policy_name,
                "namespace": s.PORTAL_PIPELINE_NAMESPACE,
                "labels": dict(self.spec.labels),
            },
            "spec": {
                "podSelector": {"matchLabels": {"app.kubernetes.io/name": s.PORTAL_PIPELINE_APP}},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {
                                        "kubernetes.io/metadata.name": self.spec.namespace
                                    }
                                },
                                "podSelector": {"matchLabels": selector(self.spec, COMPONENT_WEB)},
                            }
                        ],
                        "ports": http,
                    }
                ],
            },
        }
        return [tenant_side, pipeline_side]

    @property
    def pipeline_policy_name(self) -> str:
        return f"to-tenant-{self.spec.slug}"

    def targets_secret(self) -> dict:
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": settings.PORTAL_PIPELINE_TARGETS_SECRET,
                "namespace": settings.PORTAL_PIPELINE_NAMESPACE,
                "labels": {"app.kubernetes.io/managed-by": "tenant-portal"},
            },
            "type": "Opaque",
        }

    # --- plan mode -------------------------------------------------------------------------------

    def render(self) -> str:
        ns, secret = settings.PORTAL_PIPELINE_NAMESPACE, settings.PORTAL_PIPELINE_TARGETS_SECRET
        if not self.enabled:
            plan = {
                "step": self.name,
                "tenant": self.spec.slug,
                "enabled": False,
                "removes": [
                    f"key {self.entry_key} of Secret {ns}/{secret}",
                    *(f"NetworkPolicy {p['metadata']['name']}" for p in self.policies()),
                    f"Authentik provider and application {self.spec.pipeline_slug}",
                    f"Authentik service account {self.account.username} and its app password "
                    f"{self.account.token_id}",
                ],
            }
            return json.dumps(plan, indent=2) + "\n"
        plan = {
            "step": self.name,
            "tenant": self.spec.slug,
            "enabled": True,
            "authentik": json.loads(self.client.render()),
            "service_account": self.account.render(),
            "targets": {
                "secret": f"{ns}/{secret}",
                "key": self.entry_key,
                "value": self.entry(keys.PLACEHOLDER, keys.PLACEHOLDER, keys.PLACEHOLDER),
            },
            "network_policies": self.policies(),
            "webhook": webhook_url(),
        }
        return json.dumps(plan, indent=2) + "\n"

    # --- the real systems ------------------------------------------------------------------------

    def _targets(self) -> dict[str, str] | None:
        """The entries of the targets Secret (None: no Secret), values decoded."""
        live = self.driver.read(
            "v1",
            "Secret",
            settings.PORTAL_PIPELINE_TARGETS_SECRET,
            settings.PORTAL_PIPELINE_NAMESPACE,
        )
        if live is None:
            return None
        return {k: base64.b64decode(v).decode() for k, v in (live.get("data") or {}).items()}

    def _wanted_entry(self) -> dict[str, str] | None:
        client_id = self.ctx.secrets.get(keys.PIPELINE_CLIENT_ID)
        app_password = self.ctx.secrets.get(keys.PIPELINE_APP_PASSWORD)
        report_key = self.ctx.secrets.get(keys.PIPELINE_REPORT_SECRET)
        if client_id is None or app_password is None or report_key is None:
            return None
        return self.entry(client_id, app_password, report_key)

    def live_check(self) -> list[str]:
        if not self.enabled and not _present(self.ctx.secrets):
            # The keys are written before anything else and discarded after everything else:
            # without them nothing of the pipeline's is left, and the drift check of a tenant
            # that never had it asks neither Authentik nor the pipeline's namespace.
            return []
        targets = self._targets() or {}
        if not self.enabled:
            return self._leftovers(targets)
        out = self.client.live_check()
        out += self.account.live_check()
        present = _present(self.ctx.secrets)
        if not {keys.PIPELINE_WEBHOOK_SECRET, keys.PIPELINE_REPORT_SECRET} <= present:
            out.append("the webhook's signing keys are not in the tenant's Secret yet")
        want = self._wanted_entry()
        have = targets.get(self.entry_key)
        if have is None:
            out.append(f"the pipeline's targets have no entry {self.entry_key}")
        elif want is None or json.loads(have) != want:
            # Words only: the entry holds the app password.
            out.append(f"the pipeline's entry {self.entry_key} differs from the tenant's client")
        for policy in self.policies():
            live = self.driver.get(policy)
            would_be = self.driver.apply(policy, dry_run=True) if live is not None else policy
            out += kubernetes.differences(would_be, live)
        return out

    def _leftovers(self, targets: dict[str, str]) -> list[str]:
        out = []
        if self.entry_key in targets:
            out.append(f"the pipeline's targets still have an entry {self.entry_key}")
        for policy in self.policies():
            if self.driver.get(policy) is not None:
                out.append(f"NetworkPolicy {policy['metadata']['name']} is still there")
        if self.client.driver.provider(self.spec.pipeline_slug) is not None:
            out.append(f"Authentik still has a provider {self.spec.pipeline_slug}")
        return out + self.account.leftover()

    def live_apply(self) -> Outcome:
        if not self.enabled:
            return self.live_destroy()
        keys.require_real(self.ctx.secrets, "The pipeline's client")
        keys.ensure_all(
            self.ctx.secrets, dict.fromkeys(_SIGNING_KEYS, lambda: keys.random_password(64))
        )
        done = [self.client.live_apply().message, *self.account.live_apply()]
        policies = self.policies()
        validate_all(policies)
        for policy in policies:
            self.driver.apply(policy)
        want = self._wanted_entry()
        if (self._targets() or {}).get(self.entry_key) != _encode(want):
            self._patch_targets({self.entry_key: _encode(want)}, create=True)
            done.append(f"wrote the pipeline's entry {self.entry_key}")
        return Outcome.done("; ".join(m for m in done if m and m != "nothing to change"))

    def live_destroy(self) -> Outcome:
        done = []
        if self.entry_key in (self._targets() or {}):
            # null removes this key only: the other tenants' entries stay as they are.
            self._patch_targets({self.entry_key: None}, create=False)
            done.append(f"removed the pipeline's entry {self.entry_key}")
        for policy in self.policies():
            m = policy["metadata"]
            if self.driver.delete(NETWORK, "NetworkPolicy", m["name"], m["namespace"]):
                done.append(f"deleted NetworkPolicy {m['name']}")
        said = self.client.live_destroy().message
        if said != "already gone":
            done.append(said)
        deleted, left = self.account.live_destroy()
        if deleted:
            done.append(f"deleted {' and '.join(deleted)}")
        if left:
            done.append(f"left {' and '.join(left)} alone: not tenant {self.spec.slug}'s")
        # The credentials are dead once the client is gone; they don't linger in the Secret.
        present = _present(self.ctx.secrets)
        gone = [k for k in (*_CLIENT_KEYS, *_SIGNING_KEYS) if k in present]
        if gone:
            self.ctx.secrets.discard(gone)
        return Outcome.done("; ".join(done) or "nothing to remove")

    def live_gone(self) -> list[Looked]:
        entry = f"the pipeline's entry {self.entry_key}"
        in_targets = self.entry_key in (self._targets() or {})
        looked = [Looked(entry, "in the pipeline's targets Secret" if in_targets else "")]
        for policy in self.policies():
            m = policy["metadata"]
            live = self.driver.get(policy)
            looked.append(
                Looked(f"NetworkPolicy {m['namespace']}/{m['name']}", "exists" if live else "")
            )
        return [*looked, *self.client.live_gone(), *self.account.gone()]

    def _patch_targets(self, data: dict[str, str | None], create: bool) -> None:
        ns, name = settings.PORTAL_PIPELINE_NAMESPACE, settings.PORTAL_PIPELINE_TARGETS_SECRET
        # A merge patch of the one key: no read-modify-write race with another tenant's run.
        patch = {"stringData": data} if create else {"data": data}
        redact = tuple(v for v in data.values() if v)
        result = self.driver.merge_patch("v1", "Secret", name, ns, patch, MANAGER, redact)
        if result is None and create:
            self.driver.apply(self.targets_secret())
            self.driver.merge_patch("v1", "Secret", name, ns, patch, MANAGER, redact)


MANAGER = "tenant-portal-pipeline"
_CLIENT_KEYS = (keys.PIPELINE_CLIENT_ID, keys.PIPELINE_CLIENT_SECRET, keys.PIPELINE_APP_PASSWORD)
_SIGNING_KEYS = (keys.PIPELINE_WEBHOOK_SECRET, keys.PIPELINE_REPORT_SECRET)


def _encode(entry: dict[str, str] | None) -> str | None:
    return None if entry is None else json.dumps(entry, sort_keys=True)


def _present(store) -> set[str]:
    candidates = (*_CLIENT_KEYS, *_SIGNING_KEYS)
    return {k for k in candidates if store.get(k) is not None}
