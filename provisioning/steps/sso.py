"""The sso step: a tenant's WordPress as an OAuth2/OpenID provider and application in Authentik."""

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from django.conf import settings

from provisioning.secrets import (
    OIDC_CLIENT_ID,
    OIDC_CLIENT_SECRET,
    PLACEHOLDER,
    ensure,
    random_password,
    require_real,
)
from provisioning.steps.base import Outcome, Step
from provisioning.tenanturl import tenant_url

# Where the "OpenID Connect Generic" WordPress plugin receives the authorization code.
REDIRECT_PATH = "/wp-admin/admin-ajax.php?action=openid-connect-authorize"
API = "/api/v3"


@dataclass(frozen=True)
class _Refs:
    """The platform objects a tenant's provider points at, by primary key."""

    authorization_flow: str
    invalidation_flow: str
    property_mappings: list[str]
    signing_key: str | None
    group: str | None


class SsoStep(Step):
    """Owns the tenant's OAuth2 provider and application (both `wp-<slug>`) in Authentik, and
    the binding that limits the application to the access group when one is configured.
    The client id and secret are generated here, stored in the tenant's Secret first."""

    name = "sso"
    title = "Authentik"
    plan_suffix = "json"

    def make_driver(self):
        if not (settings.PORTAL_AUTHENTIK_URL and settings.PORTAL_AUTHENTIK_TOKEN):
            return None
        from provisioning.drivers.authentik import AuthentikDriver

        return AuthentikDriver.from_settings()

    # --- what the tenant's resources should be ---------------------------------------------------

    @property
    def site_url(self) -> str:
        return tenant_url(self.spec, "/")

    @property
    def redirect_uri(self) -> str:
        return tenant_url(self.spec, REDIRECT_PATH)

    @property
    def access_group(self) -> str:
        return settings.PORTAL_AUTHENTIK_ACCESS_GROUP.format(slug=self.spec.slug)

    def _provider_fields(self, refs: _Refs, client_id: str, client_secret: str) -> dict[str, Any]:
        return {
            "name": self.spec.sso_slug,
            "authorization_flow": refs.authorization_flow,
            "invalidation_flow": refs.invalidation_flow,
            "property_mappings": refs.property_mappings,
            "client_type": "confidential",
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uris": [{"matching_mode": "strict", "url": self.redirect_uri}],
            "signing_key": refs.signing_key,
        }

    def _application_fields(self, provider_pk: int | str) -> dict[str, Any]:
        return {
            "name": self.spec.display_name or self.spec.slug,
            "slug": self.spec.sso_slug,
            "provider": provider_pk,
            "meta_launch_url": self.site_url,
        }

    # --- plan mode -------------------------------------------------------------------------------

    def render(self) -> str:
        """The API calls a first apply makes; looked-up keys and secrets as placeholders."""
        name = self.spec.sso_slug

        def get(path: str, gives: str, **query: str) -> dict[str, str]:
            return {"method": "GET", "path": f"{API}{path}?{urlencode(query)}", "gives": gives}

        lookups = [
            get("/flows/instances/", "authorization_flow", slug=_auth_flow()),
            get("/flows/instances/", "invalidation_flow", slug=_invalidation_flow()),
            *(
                get("/propertymappings/provider/scope/", "property_mappings", scope_name=scope)
                for scope in settings.PORTAL_AUTHENTIK_SCOPES
            ),
        ]
        if settings.PORTAL_AUTHENTIK_SIGNING_KEY:
            lookups.append(
                get(
                    "/crypto/certificatekeypairs/",
                    "signing_key",
                    name=settings.PORTAL_AUTHENTIK_SIGNING_KEY,
                )
            )
        refs = _Refs(
            authorization_flow=f"<pk of flow {_auth_flow()}>",
            invalidation_flow=f"<pk of flow {_invalidation_flow()}>",
            property_mappings=[
                f"<pk of scope mapping {scope}>" for scope in settings.PORTAL_AUTHENTIK_SCOPES
            ],
            signing_key=(
                f"<pk of certificate {settings.PORTAL_AUTHENTIK_SIGNING_KEY}>"
                if settings.PORTAL_AUTHENTIK_SIGNING_KEY
                else None
            ),
            group=f"<pk of group {self.access_group}>" if self.access_group else None,
        )
        # Plan files are written under var/: never a real credential, even if one is stored.
        provider = _without_none(self._provider_fields(refs, PLACEHOLDER, PLACEHOLDER))
        calls: list[dict[str, Any]] = [
            *lookups,
            get(
                "/providers/oauth2/",
                "the provider if it exists (then PATCH what differs)",
                name=name,
            ),
            {"method": "POST", "path": f"{API}/providers/oauth2/", "body": provider},
            {
                "method": "GET",
                "path": f"{API}/core/applications/{quote(name)}/",
                "gives": "the application if it exists (then PATCH what differs)",
            },
            {
                "method": "POST",
                "path": f"{API}/core/applications/",
                "body": self._application_fields(f"<pk of provider {name}>"),
            },
        ]
        if refs.group:
            target = f"<pk of application {name}>"
            calls += [
                get("/core/groups/", "group", name=self.access_group),
                get("/policies/bindings/", "the group binding if it exists", target=target),
                {
                    "method": "POST",
                    "path": f"{API}/policies/bindings/",
                    "body": _binding(target, refs.group),
                },
            ]
        plan = {
            "step": self.name,
            "tenant": self.spec.slug,
            "system": "Authentik API (PORTAL_AUTHENTIK_URL, PORTAL_AUTHENTIK_TOKEN unset)",
            "secrets": {OIDC_CLIENT_ID: PLACEHOLDER, OIDC_CLIENT_SECRET: PLACEHOLDER},
            "calls": calls,
            "destroy": [
                {"method": "DELETE", "path": f"{API}/core/applications/{quote(name)}/"},
                {"method": "DELETE", "path": f"{API}/providers/oauth2/<pk of provider {name}>/"},
            ],
        }
        return json.dumps(plan, indent=2) + "\n"

    # --- the real Authentik ----------------------------------------------------------------------

    def _lookup(self) -> _Refs:
        d = self.driver
        return _Refs(
            authorization_flow=d.flow_pk(_auth_flow(), "PORTAL_AUTHENTIK_AUTHORIZATION_FLOW"),
            invalidation_flow=d.flow_pk(_invalidation_flow(), "PORTAL_AUTHENTIK_INVALIDATION_FLOW"),
            property_mappings=d.scope_mapping_pks(settings.PORTAL_AUTHENTIK_SCOPES),
            signing_key=(
                d.signing_key_pk(settings.PORTAL_AUTHENTIK_SIGNING_KEY)
                if settings.PORTAL_AUTHENTIK_SIGNING_KEY
                else None
            ),
            group=d.group_pk(self.access_group) if self.access_group else None,
        )

    def live_check(self) -> list[str]:
        refs = self._lookup()
        name = self.spec.sso_slug
        client_id = self.ctx.secrets.get(OIDC_CLIENT_ID)
        client_secret = self.ctx.secrets.get(OIDC_CLIENT_SECRET)
        differences = []
        if client_id is None or client_secret is None:
            differences.append("the OIDC client credentials are not in the tenant's Secret yet")
        provider = self.driver.provider(name)
        if provider is None:
            differences.append(f"provider {name} is missing")
        else:
            want = self._provider_fields(refs, client_id or "", client_secret or "")
            differences += [
                f"provider {name}: {why}" for why in _provider_drift(provider, want).values()
            ]
        app = self.driver.application(name)
        if app is None:
            differences.append(f"application {name} is missing")
            return differences
        want_app = self._application_fields(provider.pk if provider else "")
        differences += [
            f"application {name}: {why}" for why in _application_drift(app, want_app).values()
        ]
        if refs.group and not self._bound(app, refs.group):
            differences.append(
                f"application {name} is not limited to the group {self.access_group}"
            )
        return differences

    def live_apply(self) -> Outcome:
        require_real(self.ctx.secrets, "The Authentik client")
        # Generated and stored before Authentik hears of them: a crash after create loses nothing.
        client_id = ensure(self.ctx.secrets, OIDC_CLIENT_ID, lambda: random_password(40))
        client_secret = ensure(self.ctx.secrets, OIDC_CLIENT_SECRET, lambda: random_password(64))
        refs = self._lookup()
        d = self.driver
        name = self.spec.sso_slug
        done = []

        want = self._provider_fields(refs, client_id, client_secret)
        provider = d.provider(name)
        if provider is None:
            provider = d.provider_create(_without_none(want))
            done.append(f"created provider {name}")
        else:
            patch = {f: want[f] for f in _provider_drift(provider, want)}
            if patch:
                provider = d.provider_update(provider.pk, name, patch)
                done.append(f"updated provider {name} ({', '.join(_words(patch))})")

        want_app = self._application_fields(provider.pk)
        app = d.application(name)
        if app is None:
            app = d.application_create(want_app)
            done.append(f"created application {name}")
        else:
            patch = {f: want_app[f] for f in _application_drift(app, want_app)}
            if patch:
                app = d.application_update(name, patch)
                done.append(f"updated application {name} ({', '.join(_words(patch))})")

        if refs.group and not self._bound(app, refs.group):
            d.group_binding_create(str(app.pk), refs.group)
            done.append(f"limited application {name} to the group {self.access_group}")
        return Outcome.done("; ".join(done) or "nothing to change")

    def live_destroy(self) -> Outcome:
        name = self.spec.sso_slug
        # The application first: it points at the provider (and takes its bindings with it).
        gone = [f"application {name}" if self.driver.application_delete(name) else None]
        provider = self.driver.provider(name)
        if provider is not None and self.driver.provider_delete(provider.pk, name):
            gone.append(f"provider {name}")
        deleted = [what for what in gone if what]
        return Outcome.done(f"deleted {' and '.join(deleted)}" if deleted else "already gone")

    def _bound(self, app, group: str) -> bool:
        bindings = self.driver.group_bindings(str(app.pk))
        return any(str(b.group) == group and b.enabled is not False for b in bindings)


# --- comparing what Authentik has with what we want -----------------------------------------------


def _provider_drift(actual, want: dict[str, Any]) -> dict[str, str]:
    """Field -> why it differs. Words only: never a credential's value."""
    drift = {}
    uris = actual.redirect_uris
    if uris != want["redirect_uris"]:
        shown = ", ".join(u["url"] for u in uris) or "none"
        drift["redirect_uris"] = (
            f"redirect URIs are {shown} instead of {want['redirect_uris'][0]['url']}"
        )
    if actual.client_type != want["client_type"]:
        drift["client_type"] = f"client type is {actual.client_type or 'unset'}, not confidential"
    if actual.client_id != want["client_id"]:
        drift["client_id"] = "client id differs from the stored one"
    if actual.client_secret != want["client_secret"]:
        drift["client_secret"] = "client secret differs from the stored one"
    for field in ("authorization_flow", "invalidation_flow"):
        if getattr(actual, field) != want[field]:
            drift[field] = f"{field.replace('_', ' ')} is not the configured one"
    if sorted(actual.property_mappings) != sorted(want["property_mappings"]):
        drift["property_mappings"] = "scope mappings differ from " + ", ".join(
            settings.PORTAL_AUTHENTIK_SCOPES
        )
    if actual.signing_key != want["signing_key"]:
        drift["signing_key"] = "signing key is not the configured one"
    return drift


def _application_drift(actual, want: dict[str, Any]) -> dict[str, str]:
    drift = {}
    if actual.provider != want["provider"]:
        drift["provider"] = f"is not bound to provider {want['slug']}"
    if actual.meta_launch_url != want["meta_launch_url"]:
        shown = actual.meta_launch_url or "empty"
        drift["meta_launch_url"] = f"launch URL is {shown} instead of {want['meta_launch_url']}"
    if actual.name != want["name"]:
        drift["name"] = f"is named {actual.name!r} instead of {want['name']!r}"
    return drift


def _words(patch: dict[str, Any]) -> list[str]:
    return [field.replace("_", " ") for field in patch]


def _without_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _binding(target: str, group: str) -> dict[str, Any]:
    return {"target": target, "group": group, "order": 0, "enabled": True}


def _auth_flow() -> str:
    return settings.PORTAL_AUTHENTIK_AUTHORIZATION_FLOW


def _invalidation_flow() -> str:
    return settings.PORTAL_AUTHENTIK_INVALIDATION_FLOW
