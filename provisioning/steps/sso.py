"""The sso step: a tenant's WordPress as an OAuth2/OpenID provider and application in Authentik."""

import json
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

from django.conf import settings

from provisioning.errors import StepFailed
from provisioning.secrets import (
    OIDC_CLIENT_ID,
    OIDC_CLIENT_SECRET,
    PLACEHOLDER,
    ensure,
    random_password,
    require_real,
)
from provisioning.steps.base import Looked, Outcome, Step

if TYPE_CHECKING:
    from provisioning.drivers.authentik import Application, Group, Provider
from provisioning.tenanturl import host_url, tenant_url

# Where the "OpenID Connect Generic" WordPress plugin receives the authorization code.
# The tenant's marker on its application (authentik's "publisher" field, shown nowhere that
# matters); its provider is recognised by the client id stored in the tenant's Secret.
PUBLISHER = "tenant-portal/{slug}"
# On a group the portal made for a tenant (its attributes): only such a group's members are
# the portal's to set; a configured group shared with others is bound, never edited.
GROUP_MARKER = "tenant-portal"
REDIRECT_PATH = "/wp-admin/admin-ajax.php?action=openid-connect-authorize"
API = "/api/v3"
# The platform's values every provider points at (flows, scope mappings, signing key), looked up
# once per worker and this many seconds rather than twice for every tenant: a drift scan of
# 1,000 tenants asked Authentik for the same six things 2,000 times (bench/). A failed apply
# forgets them, so one recreated in Authentik is found again by the retry.
PLATFORM_TTL = 300.0
_platform: dict[tuple, tuple[float, tuple]] = {}
_platform_lock = threading.Lock()


def platform_forget() -> None:
    with _platform_lock:
        _platform.clear()


@dataclass(frozen=True)
class _Refs:
    """The platform objects a tenant's provider points at, by primary key."""

    authorization_flow: str
    invalidation_flow: str
    property_mappings: list[str]
    signing_key: str | None
    group: "Group | None"


class SsoStep(Step):
    """Owns the tenant's OAuth2 provider and application (both `wp-<slug>`) in Authentik, and
    the binding that limits the application to the access group when one is configured.
    The client id and secret are generated here, stored in the tenant's Secret first."""

    name = "sso"
    title = "Authentik"
    plan_suffix = "json"
    # The tenant Secret's keys holding this client's credentials (a subclass owns other ones).
    client_id_key = OIDC_CLIENT_ID
    client_secret_key = OIDC_CLIENT_SECRET

    def make_driver(self):
        if not (settings.PORTAL_AUTHENTIK_URL and settings.PORTAL_AUTHENTIK_TOKEN):
            return None
        from provisioning.drivers.authentik import AuthentikDriver

        return AuthentikDriver.from_settings()

    # --- what the tenant's resources should be ---------------------------------------------------

    @property
    def app_slug(self) -> str:
        """The name of the provider and the slug of the application."""
        return self.spec.sso_slug

    @property
    def site_url(self) -> str:
        return tenant_url(self.spec, "/")

    @property
    def redirect_uri(self) -> str:
        return tenant_url(self.spec, REDIRECT_PATH)

    @property
    def redirect_uris(self) -> list[str]:
        """The site's own first, then one per proven custom host the site is served under."""
        extra = [host_url(host, REDIRECT_PATH) for host in self.spec.extra_hosts]
        return [self.redirect_uri, *extra]

    @property
    def publisher(self) -> str:
        return PUBLISHER.format(slug=self.spec.slug)

    @property
    def access_group(self) -> str:
        return settings.PORTAL_AUTHENTIK_ACCESS_GROUP.format(slug=self.spec.slug)

    def _provider_fields(self, refs: _Refs, client_id: str, client_secret: str) -> dict[str, Any]:
        return {
            "name": self.app_slug,
            "authorization_flow": refs.authorization_flow,
            "invalidation_flow": refs.invalidation_flow,
            "property_mappings": refs.property_mappings,
            "client_type": "confidential",
            "client_id": client_id,
            "client_secret": client_secret,
            "redirect_uris": [
                {"matching_mode": "strict", "url": url} for url in self.redirect_uris
            ],
            "signing_key": refs.signing_key,
        }

    def _application_fields(self, provider_pk: int | str) -> dict[str, Any]:
        return {
            "name": self.spec.display_name or self.spec.slug,
            "slug": self.app_slug,
            "provider": provider_pk,
            "meta_launch_url": self.site_url,
            "meta_publisher": self.publisher,
        }

    # --- plan mode -------------------------------------------------------------------------------

    def render(self) -> str:
        """The API calls a first apply makes; looked-up keys and secrets as placeholders."""
        name = self.app_slug

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
            group=None,
        )
        # Plan files are written under var/: never a real credential, even if one is stored.
        provider = _without_none(self._provider_fields(refs, PLACEHOLDER, PLACEHOLDER))
        # Both looked up first: one that exists but isn't the tenant's stops the step unchanged.
        find_provider = get(
            "/providers/oauth2/",
            "the provider if it exists: the tenant's if its client_id is the stored one "
            "(then PATCH what differs), else the step fails",
            name=name,
        )
        find_application = {
            "method": "GET",
            "path": f"{API}/core/applications/{quote(name)}/",
            "gives": f"the application if it exists: the tenant's if its meta_publisher is "
            f"{self.publisher} (then PATCH what differs), else the step fails",
        }
        calls: list[dict[str, Any]] = [
            *lookups,
            find_provider,
            find_application,
            {"method": "POST", "path": f"{API}/providers/oauth2/", "body": provider},
            {
                "method": "POST",
                "path": f"{API}/core/applications/",
                "body": self._application_fields(f"<pk of provider {name}>"),
            },
        ]
        if self.access_group:
            target = f"<pk of application {name}>"
            group = f"<pk of group {self.access_group}>"
            calls += [
                get("/core/groups/", "the group if it exists", name=self.access_group),
                *(
                    [
                        {
                            "method": "POST",
                            "path": f"{API}/core/groups/",
                            "body": {"name": self.access_group, "attributes": self._marker},
                        }
                    ]
                    if self._group_is_per_tenant
                    else []
                ),
                *(
                    {
                        "method": "POST",
                        "path": f"{API}/core/groups/{group}/add_user/",
                        "body": {"pk": f"<pk of user {username}>"},
                    }
                    for username in self.wanted_members
                    if self._group_is_per_tenant
                ),
                get("/policies/bindings/", "the group binding if it exists", target=target),
                {
                    "method": "POST",
                    "path": f"{API}/policies/bindings/",
                    "body": _binding(target, group),
                },
            ]
        plan = {
            "step": self.name,
            "tenant": self.spec.slug,
            "system": "Authentik API (PORTAL_AUTHENTIK_URL, PORTAL_AUTHENTIK_TOKEN unset)",
            "secrets": {self.client_id_key: PLACEHOLDER, self.client_secret_key: PLACEHOLDER},
            "calls": calls,
            "destroy": [
                {**find_provider, "gives": "the provider: deleted only if it is the tenant's"},
                {**find_application, "gives": "the application: deleted only if the tenant's"},
                {"method": "DELETE", "path": f"{API}/core/applications/{quote(name)}/"},
                {"method": "DELETE", "path": f"{API}/providers/oauth2/<pk of provider {name}>/"},
            ],
        }
        return json.dumps(plan, indent=2) + "\n"

    # --- the real Authentik ----------------------------------------------------------------------

    def _platform_values(self) -> tuple:
        d = self.driver
        key = (
            settings.PORTAL_AUTHENTIK_URL,
            _auth_flow(),
            _invalidation_flow(),
            tuple(settings.PORTAL_AUTHENTIK_SCOPES),
            settings.PORTAL_AUTHENTIK_SIGNING_KEY,
        )
        with _platform_lock:
            hit = _platform.get(key)
        if hit and time.monotonic() - hit[0] < PLATFORM_TTL:
            return hit[1]
        values = (
            d.flow_pk(_auth_flow(), "PORTAL_AUTHENTIK_AUTHORIZATION_FLOW"),
            d.flow_pk(_invalidation_flow(), "PORTAL_AUTHENTIK_INVALIDATION_FLOW"),
            d.scope_mapping_pks(settings.PORTAL_AUTHENTIK_SCOPES),
            (
                d.signing_key_pk(settings.PORTAL_AUTHENTIK_SIGNING_KEY)
                if settings.PORTAL_AUTHENTIK_SIGNING_KEY
                else None
            ),
        )
        with _platform_lock:
            _platform[key] = (time.monotonic(), values)
        return values

    def _lookup(self) -> _Refs:
        authorization_flow, invalidation_flow, mappings, signing_key = self._platform_values()
        return _Refs(
            authorization_flow=authorization_flow,
            invalidation_flow=invalidation_flow,
            property_mappings=list(mappings),
            signing_key=signing_key,
            group=self.driver.group(self.access_group) if self.access_group else None,
        )

    def live_check(self) -> list[str]:
        refs = self._lookup()
        name = self.app_slug
        client_id = self.ctx.secrets.get(self.client_id_key)
        client_secret = self.ctx.secrets.get(self.client_secret_key)
        provider, app = self._own(client_id)
        differences = []
        if client_id is None or client_secret is None:
            differences.append("the OIDC client credentials are not in the tenant's Secret yet")
        if provider is None:
            differences.append(f"provider {name} is missing")
        else:
            want = self._provider_fields(refs, client_id or "", client_secret or "")
            differences += [
                f"provider {name}: {why}" for why in _provider_drift(provider, want).values()
            ]
        if app is None:
            differences.append(f"application {name} is missing")
            return differences
        want_app = self._application_fields(provider.pk if provider else "")
        differences += [
            f"application {name}: {why}" for why in _application_drift(app, want_app).values()
        ]
        if self.access_group:
            differences += self._group_drift(refs.group, app)
        return differences

    def live_apply(self) -> Outcome:
        try:
            return self._live_apply()
        except Exception:
            platform_forget()  # perhaps a flow or mapping recreated meanwhile: look again
            raise

    def _live_apply(self) -> Outcome:
        require_real(self.ctx.secrets, "The Authentik client")
        # Generated and stored before Authentik hears of them: a crash after create loses nothing.
        client_id = ensure(self.ctx.secrets, self.client_id_key, lambda: random_password(40))
        client_secret = ensure(
            self.ctx.secrets, self.client_secret_key, lambda: random_password(64)
        )
        refs = self._lookup()
        d = self.driver
        name = self.app_slug
        # Both looked at before anything is written: someone else's object changes nothing.
        provider, app = self._own(client_id)
        done = []

        want = self._provider_fields(refs, client_id, client_secret)
        if provider is None:
            provider = d.provider_create(_without_none(want))
            done.append(f"created provider {name}")
        else:
            patch = {f: want[f] for f in _provider_drift(provider, want)}
            if patch:
                provider = d.provider_update(provider.pk, name, patch)
                done.append(f"updated provider {name} ({', '.join(_words(patch))})")

        want_app = self._application_fields(provider.pk)
        if app is None:
            app = d.application_create(want_app)
            done.append(f"created application {name}")
        else:
            patch = {f: want_app[f] for f in _application_drift(app, want_app)}
            if patch:
                app = d.application_update(name, patch)
                done.append(f"updated application {name} ({', '.join(_words(patch))})")

        if self.access_group:
            done += self._group_apply(refs.group, app)
        return Outcome.done("; ".join(done) or "nothing to change")

    def live_destroy(self) -> Outcome:
        name = self.app_slug
        d = self.driver
        provider = d.provider(name)
        ours = (
            provider if self._is_ours(provider, self.ctx.secrets.get(self.client_id_key)) else None
        )
        app = d.application(name)
        deleted, left = [], []
        # The application first: it points at the provider (and takes its bindings with it).
        if app is not None:
            if not self._is_our_app(app, ours):
                left.append(f"application {name}")
            elif d.application_delete(name):
                deleted.append(f"application {name}")
        if provider is not None:
            if ours is None:
                left.append(f"provider {name}")
            elif d.provider_delete(provider.pk, name):
                deleted.append(f"provider {name}")
        group = d.group(self.access_group) if self.access_group else None
        # Only the group made for this tenant: a configured one is the platform's.
        if group is not None and self._is_our_group(group):
            if d.group_delete(group.pk, group.name):
                deleted.append(f"group {group.name}")
        said = [f"deleted {' and '.join(deleted)}"] if deleted else []
        if left:
            said.append(f"left {' and '.join(left)} alone: not tenant {self.spec.slug}'s")
        return Outcome.done("; ".join(said) or "already gone")

    def live_gone(self) -> list[Looked]:
        name, d = self.app_slug, self.driver
        provider = d.provider(name)
        ours = self._is_ours(provider, self.ctx.secrets.get(self.client_id_key))
        app = d.application(name)
        app_ours = app is not None and self._is_our_app(app, provider if ours else None)
        looked = [
            _looked(f"Authentik application {name}", app, app_ours),
            _looked(f"Authentik provider {name}", provider, ours),
        ]
        group = d.group(self.access_group) if self.access_group else None
        # A configured group without the tenant's marker is the platform's: never removed.
        if self.access_group and (group is None or self._is_our_group(group)):
            looked.append(_looked(f"Authentik group {self.access_group}", group, True))
        return looked

    # --- what is the tenant's --------------------------------------------------------------------

    def _own(self, client_id: str | None) -> "tuple[Provider | None, Application | None]":
        """The tenant's provider and application (None where missing). One of that name that
        isn't the tenant's fails the step: the portal neither adopts nor changes it."""
        name = self.app_slug
        provider = self.driver.provider(name)
        if provider is not None and not self._is_ours(provider, client_id):
            raise self._taken(
                f"a provider {name}", "its client id is not the one in the tenant's Secret"
            )
        app = self.driver.application(name)
        if app is not None and not self._is_our_app(app, provider):
            raise self._taken(
                f"an application {name}",
                f"its publisher is {app.meta_publisher or 'empty'!r}, not {self.publisher!r}, "
                "and it is not bound to the tenant's provider",
            )
        return provider, app

    def _is_ours(self, provider: "Provider | None", client_id: str | None) -> bool:
        return provider is not None and bool(client_id) and provider.client_id == client_id

    def _is_our_app(self, app: "Application", our_provider: "Provider | None") -> bool:
        if app.meta_publisher == self.publisher:
            return True
        # Made by a portal from before the marker: unmarked, and bound to the tenant's provider.
        return (
            not app.meta_publisher
            and our_provider is not None
            and (app.provider == our_provider.pk)
        )

    def _taken(self, what: str, why: str) -> StepFailed:
        return StepFailed(
            f"Authentik already has {what} that is not tenant {self.spec.slug}'s ({why}). The "
            "portal adopts only what carries the tenant's marker, so nothing was changed: "
            "delete or rename it in Authentik, or pick another slug."
        )

    def _bound(self, app, group: str) -> bool:
        bindings = self.driver.group_bindings(str(app.pk))
        return any(str(b.group) == group and b.enabled is not False for b in bindings)

    # --- who may sign in: the access group -------------------------------------------------------

    @property
    def wanted_members(self) -> list[str]:
        """The Authentik user names the tenant's group should hold: owner first, then members."""
        names = [self.spec.owner_username, *self.spec.members]
        return list(dict.fromkeys(n for n in names if n))

    @property
    def _marker(self) -> dict[str, str]:
        return {GROUP_MARKER: self.spec.slug}

    @property
    def _group_is_per_tenant(self) -> bool:
        return "{slug}" in settings.PORTAL_AUTHENTIK_ACCESS_GROUP

    def _is_our_group(self, group: "Group") -> bool:
        return group.attributes.get(GROUP_MARKER) == self.spec.slug

    def _membership(self, group: "Group") -> tuple[set[int], set[int], list[str]]:
        """(user pks to add, user pks to remove, wanted names Authentik has no user of)."""
        wanted: set[int] = set()
        unknown = []
        for username in self.wanted_members:
            pk = self.driver.user_pk(username)
            if pk is None:
                unknown.append(username)
            else:
                wanted.add(pk)
        have = set(group.users)
        return wanted - have, have - wanted, unknown

    def _group_drift(self, group: "Group | None", app) -> list[str]:
        name = self.access_group
        if group is None:
            return [f"group {name} is missing"]
        differences = []
        if self._is_our_group(group):
            add, remove, _ = self._membership(group)
            if add:
                differences.append(f"group {name} lacks {len(add)} of the tenant's people")
            if remove:
                differences.append(f"group {name} holds {len(remove)} people not the tenant's")
        if not self._bound(app, group.pk):
            differences.append(
                f"application {self.spec.sso_slug} is not limited to the group {name}"
            )
        return differences

    def _group_apply(self, group: "Group | None", app) -> list[str]:
        d = self.driver
        name = self.access_group
        done = []
        if group is None:
            if not self._group_is_per_tenant:
                raise StepFailed(
                    f"Authentik has no group named {name!r} (PORTAL_AUTHENTIK_ACCESS_GROUP). A "
                    "group shared by every tenant is the platform's to create; one per tenant "
                    "({slug} in the setting) the portal creates itself."
                )
            group = d.group_create(name, self._marker)
            done.append(f"created group {name}")
        if self._is_our_group(group):
            add, remove, unknown = self._membership(group)
            for pk in sorted(add):
                d.group_member(group, pk, add=True)
            for pk in sorted(remove):
                d.group_member(group, pk, add=False)
            if add:
                done.append(f"added {len(add)} to group {name}")
            if remove:
                done.append(f"removed {len(remove)} from group {name}")
            if unknown:
                # Not an error: a person is in Authentik once they have signed in or been
                # invited; the next run adds them.
                done.append(f"no Authentik user yet: {', '.join(unknown)}")
        if not self._bound(app, group.pk):
            d.group_binding_create(str(app.pk), group.pk)
            done.append(f"limited application {self.spec.sso_slug} to the group {name}")
        return done


# --- comparing what Authentik has with what we want -----------------------------------------------


def _provider_drift(actual, want: dict[str, Any]) -> dict[str, str]:
    """Field -> why it differs. Words only: never a credential's value."""
    drift = {}
    uris = actual.redirect_uris
    if uris != want["redirect_uris"]:
        shown = ", ".join(u["url"] for u in uris) or "none"
        wanted = ", ".join(u["url"] for u in want["redirect_uris"])
        drift["redirect_uris"] = f"redirect URIs are {shown} instead of {wanted}"
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
    if actual.meta_publisher != want["meta_publisher"]:
        drift["meta_publisher"] = (
            f"is not marked as the tenant's (publisher {want['meta_publisher']})"
        )
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


def _looked(what: str, found: object, ours: object) -> Looked:
    """What a look-up by name found of an Authentik object a teardown removed."""
    if found is None:
        return Looked(what)
    return Looked(what, f"Authentik still has it (pk {getattr(found, 'pk', '?')})", bool(ours))
