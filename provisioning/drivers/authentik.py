"""The portal's calls to Authentik: OAuth2 providers, applications, groups and their bindings,
service accounts and their app-password tokens.

Only the fields the portal needs are read, and an unknown, missing or null field is no error
unless the portal can't do without it — so one driver works with Authentik 2025.4 to the newest.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from django.conf import settings

from provisioning.drivers.authentik_http import AuthentikHttp, Missing, Resource, unusable
from provisioning.errors import StepFailed

FLOWS = Resource("/flows/instances/", "authentik_flows.flow")
SCOPES = Resource("/propertymappings/provider/scope/", "authentik_providers_oauth2.scopemapping")
KEYPAIRS = Resource("/crypto/certificatekeypairs/", "authentik_crypto.certificatekeypair")
GROUPS = Resource("/core/groups/", "authentik_core.group")
USERS = Resource("/core/users/", "authentik_core.user")
PROVIDERS = Resource("/providers/oauth2/", "authentik_providers_oauth2.oauth2provider")
APPLICATIONS = Resource("/core/applications/", "authentik_core.application")
BINDINGS = Resource("/policies/bindings/", "authentik_policies.policybinding")
TOKENS = Resource("/core/tokens/", "authentik_core.token")


@dataclass(frozen=True)
class _Action(Resource):
    """An action on one object, whose permission is its own (not <verb>_<model>)."""

    perm: str = ""

    def permission(self, method: str) -> str:
        return f"{self.model.split('.')[0]}.{self.perm}"


@dataclass(frozen=True)
class Provider:
    pk: int | str
    name: str
    client_type: str | None
    client_id: str | None
    client_secret: str | None
    authorization_flow: str | None
    invalidation_flow: str | None
    property_mappings: list[str]
    signing_key: str | None
    redirect_uris: list[dict[str, str]]


@dataclass(frozen=True)
class Application:
    pk: str  # also the target of its policy bindings (authentik's pbm_uuid, not always sent)
    slug: str
    name: str | None
    provider: int | str | None
    meta_launch_url: str
    meta_publisher: str


@dataclass(frozen=True)
class Group:
    pk: str
    name: str
    users: list[int]
    attributes: dict


@dataclass(frozen=True)
class User:
    pk: int
    username: str
    type: str | None
    attributes: dict


@dataclass(frozen=True)
class Token:
    identifier: str
    intent: str | None
    user: int | None
    expiring: bool


@dataclass(frozen=True)
class Binding:
    pk: str
    group: str | None
    enabled: bool
    user: int | None = None


class AuthentikDriver:
    """Speaks to one Authentik; every failure leaves as TransientError or StepFailed."""

    def __init__(self, url: str, token: str, **transport: Any):
        self.http = AuthentikHttp(url, token, **transport)
        self.url = self.http.url

    @classmethod
    def from_settings(cls) -> "AuthentikDriver":
        return cls(
            settings.PORTAL_AUTHENTIK_URL,
            settings.PORTAL_AUTHENTIK_TOKEN,
            connect_timeout=settings.PORTAL_AUTHENTIK_CONNECT_TIMEOUT,
            read_timeout=settings.PORTAL_AUTHENTIK_READ_TIMEOUT,
            verify_tls=settings.PORTAL_AUTHENTIK_VERIFY_TLS,
        )

    # --- lookups of what the platform already has ------------------------------------------------

    def flow_pk(self, slug: str, setting: str) -> str:
        what = f"look up flow {slug}"
        found = self._lookup(what, FLOWS, "slug", slug, f"flow with the slug {slug!r}", setting)
        return _text(found[0], "pk", what)

    def scope_mapping_pks(self, scopes: Iterable[str]) -> list[str]:
        pks = []
        for scope in scopes:
            what = f"look up scope mapping {scope}"
            thing = f"scope mapping for the scope {scope!r}"
            found = self._lookup(
                what, SCOPES, "scope_name", scope, thing, "PORTAL_AUTHENTIK_SCOPES"
            )
            # Prefer authentik's own mapping over look-alikes someone added by hand.
            managed = f"goauthentik.io/providers/oauth2/scope-{scope}"
            chosen = next((m for m in found if m.get("managed") == managed), found[0])
            pks.append(_text(chosen, "pk", what))
        return pks

    def signing_key_pk(self, name: str) -> str:
        what = f"look up certificate {name}"
        thing = f"certificate-key pair named {name!r}"
        found = self._lookup(what, KEYPAIRS, "name", name, thing, "PORTAL_AUTHENTIK_SIGNING_KEY")
        return _text(found[0], "pk", what)

    def group_pk(self, name: str) -> str:
        what = f"look up group {name}"
        thing = f"group named {name!r}"
        found = self._lookup(what, GROUPS, "name", name, thing, "PORTAL_AUTHENTIK_ACCESS_GROUP")
        return _text(found[0], "pk", what)

    def _lookup(
        self, what: str, res: Resource, field: str, value: str, thing: str, setting: str
    ) -> list[dict]:
        """The platform's objects whose `field` is `value`; none is the setting's to fix."""
        found = _matching(self.http.find(what, res, **{field: value}), field, value)
        if not found:
            # Lists show only what the token's user may see: no permission looks like nothing.
            raise StepFailed(
                f"Authentik has no {thing} (see {setting}), or none the token's user may see "
                f"(that needs the permission {res.permission('GET')})."
            )
        return found

    # --- groups and their members ---------------------------------------------------------------

    def group(self, name: str) -> Group | None:
        what = f"look up group {name}"
        found = _matching(self.http.find(what, GROUPS, name=name), "name", name)
        return _group(found[0], what) if found else None

    def group_create(self, name: str, attributes: dict) -> Group:
        what = f"create group {name}"
        body = {"name": name, "attributes": attributes}
        return _group(self.http.create(what, GROUPS, body), what)

    def group_delete(self, pk: str, name: str) -> bool:
        return self.http.delete(f"delete group {name}", GROUPS, pk)

    def user_pk(self, username: str) -> int | None:
        """The Authentik user of that exact user name; None when there is none (yet)."""
        what = f"look up user {username}"
        found = _matching(self.http.find(what, USERS, username=username), "username", username)
        if not found:
            return None
        pk = _key(found[0], "pk", what)
        if not isinstance(pk, int):
            raise unusable(what, "pk")
        return pk

    def group_member(self, group: Group, user: int, *, add: bool) -> None:
        """POST /core/groups/<uuid>/add_user/ or remove_user/ with {"pk": <user pk>}, 204
        (authentik's API reference, core_groups_add_user_create): one member at a time, so
        a concurrent change to someone else's membership is never overwritten."""
        verb = "add_user" if add else "remove_user"
        perm = "add_user_to_group" if add else "remove_user_from_group"
        res = _Action(f"{GROUPS.path}{group.pk}/{verb}/", "authentik_core.group", perm)
        what = f"{'add' if add else 'remove'} user {user} {'to' if add else 'from'} {group.name}"
        self.http.create(what, res, {"pk": user})

    # --- service accounts and their app passwords ------------------------------------------------

    def user(self, username: str) -> User | None:
        what = f"look up user {username}"
        found = _matching(self.http.find(what, USERS, username=username), "username", username)
        return _user(found[0], what) if found else None

    def service_account_create(self, username: str, name: str, attributes: dict) -> User:
        """POST /core/users/ with type service_account (core_users_create), not
        /core/users/service_account/: that one takes no attributes, so the tenant's marker
        would come in a second call, and a crash between the two would leave an unmarked
        account the portal may no longer adopt."""
        what = f"create service account {username}"
        body = {
            "username": username,
            "name": name,
            "type": "service_account",
            "is_active": True,
            "attributes": attributes,
        }
        return _user(self.http.create(what, USERS, body), what)

    def user_delete(self, pk: int, username: str) -> bool:
        """Delete the user (authentik deletes its tokens with it); False when it was gone."""
        return self.http.delete(f"delete user {username}", USERS, str(pk))

    def token(self, identifier: str) -> Token | None:
        what = f"look up token {identifier}"
        try:
            return _token(self.http.get(what, TOKENS, identifier), what)
        except Missing:
            return None

    def app_password_create(self, identifier: str, user: int, description: str) -> Token:
        """An app password (intent app_password: what the client_credentials grant takes as
        the password) that never expires: authentik's default is 30 minutes, after which the
        pipeline could not sign in until the next run; the portal rotates it by deleting it."""
        what = f"create token {identifier}"
        body = {
            "identifier": identifier,
            "intent": "app_password",
            "user": user,
            "description": description,
            "expiring": False,
        }
        return _token(self.http.create(what, TOKENS, body), what)

    def token_update(self, identifier: str, fields: dict[str, Any]) -> Token:
        what = f"update token {identifier}"
        return _token(self.http.update(what, TOKENS, identifier, fields), what)

    def token_key(self, identifier: str) -> str:
        """GET /core/tokens/<identifier>/view_key/ -> {"key": ...} (core_tokens_view_key_retrieve;
        authentik logs each view as an event, so only an apply asks, never a drift check)."""
        what = f"read the key of token {identifier}"
        res = _Action(
            f"{TOKENS.path}{quote(identifier, safe='')}/view_key/",
            "authentik_core.token",
            "view_token_key",
        )
        return _text(self.http.get(what, res), "key", what)

    def token_delete(self, identifier: str) -> bool:
        return self.http.delete(f"delete token {identifier}", TOKENS, identifier)

    # --- OAuth2 providers ------------------------------------------------------------------------

    def provider(self, name: str) -> Provider | None:
        what = f"look up provider {name}"
        found = _matching(self.http.find(what, PROVIDERS, name=name), "name", name)
        return _provider(found[0], what) if found else None

    def provider_create(self, fields: dict[str, Any]) -> Provider:
        what = f"create provider {fields['name']}"
        answer = self.http.create(what, PROVIDERS, fields, hide=_secrets_in(fields))
        return _provider(answer, what)

    def provider_update(self, pk: int | str, name: str, fields: dict[str, Any]) -> Provider:
        what = f"update provider {name}"
        answer = self.http.update(what, PROVIDERS, str(pk), fields, hide=_secrets_in(fields))
        return _provider(answer, what)

    def provider_delete(self, pk: int | str, name: str) -> bool:
        """Delete the provider; False when it was gone already."""
        return self.http.delete(f"delete provider {name}", PROVIDERS, str(pk))

    # --- applications ----------------------------------------------------------------------------

    def application(self, slug: str) -> Application | None:
        what = f"look up application {slug}"
        try:
            return _application(self.http.get(what, APPLICATIONS, slug), what)
        except Missing:
            return None

    def application_create(self, fields: dict[str, Any]) -> Application:
        what = f"create application {fields['slug']}"
        return _application(self.http.create(what, APPLICATIONS, fields), what)

    def application_update(self, slug: str, fields: dict[str, Any]) -> Application:
        what = f"update application {slug}"
        return _application(self.http.update(what, APPLICATIONS, slug, fields), what)

    def application_delete(self, slug: str) -> bool:
        """Delete the application (its policy bindings go with it); False when there was none."""
        return self.http.delete(f"delete application {slug}", APPLICATIONS, slug)

    # --- who may open an application -------------------------------------------------------------

    def bindings(self, target: str) -> list[Binding]:
        what = "look up the application's bindings"
        rows = self.http.find(what, BINDINGS, target=target)
        # A server that ignores the filter answers every binding: keep the target's own.
        rows = [r for r in rows if str(r.get("target", target)) == target]
        return [_binding(r, what) for r in rows]

    def group_bindings(self, target: str) -> list[Binding]:
        return [b for b in self.bindings(target) if b.group]

    def group_binding_create(self, target: str, group: str) -> Binding:
        what = "bind the access group"
        body = {"target": target, "group": group, "order": 0, "enabled": True}
        return _binding(self.http.create(what, BINDINGS, body), what)

    def user_bindings(self, target: str) -> list[Binding]:
        """The bindings of the application to single users (not groups, not policies)."""
        return [b for b in self.bindings(target) if b.user is not None]

    def user_binding_create(self, target: str, user: int) -> Binding:
        what = "bind the service account"
        body = {"target": target, "user": user, "order": 0, "enabled": True}
        return _binding(self.http.create(what, BINDINGS, body), what)

    def binding_delete(self, pk: str) -> bool:
        return self.http.delete("remove a group binding", BINDINGS, pk)

    def __repr__(self) -> str:  # never the token
        return f"<AuthentikDriver {self.url}>"


# --- reading answers: only what the portal uses ---------------------------------------------------


def _provider(row: dict, what: str) -> Provider:
    return Provider(
        pk=_key(row, "pk", what),
        name=_text(row, "name", what),
        client_type=_maybe_text(row, "client_type", what),
        client_id=_maybe_text(row, "client_id", what),
        client_secret=_maybe_text(row, "client_secret", what),
        authorization_flow=_maybe_text(row, "authorization_flow", what),
        invalidation_flow=_maybe_text(row, "invalidation_flow", what),
        property_mappings=[str(pk) for pk in _list(row, "property_mappings", what)],
        signing_key=_maybe_text(row, "signing_key", what),
        redirect_uris=_redirect_uris(row, what),
    )


def _redirect_uris(row: dict, what: str) -> list[dict[str, str]]:
    value = row.get("redirect_uris")
    if isinstance(value, str):  # before 2024.10: one URL a line, compared strictly
        return [{"matching_mode": "strict", "url": u} for u in value.split() if u]
    uris = []
    for uri in _list(row, "redirect_uris", what):
        if not isinstance(uri, dict) or not isinstance(uri.get("url"), str):
            raise unusable(what, "redirect_uris")
        uris.append({"matching_mode": str(uri.get("matching_mode") or "strict"), "url": uri["url"]})
    return uris


def _application(row: dict, what: str) -> Application:
    return Application(
        pk=_text(row, "pk", what),
        slug=_text(row, "slug", what),
        name=_maybe_text(row, "name", what),
        provider=row.get("provider") if isinstance(row.get("provider"), int | str) else None,
        meta_launch_url=_maybe_text(row, "meta_launch_url", what) or "",
        meta_publisher=_maybe_text(row, "meta_publisher", what) or "",
    )


def _group(row: dict, what: str) -> Group:
    attributes = row.get("attributes")
    users = _list(row, "users", what)
    if not all(isinstance(u, int) and not isinstance(u, bool) for u in users):
        raise unusable(what, "users")
    return Group(
        pk=_text(row, "pk", what),
        name=_text(row, "name", what),
        users=users,
        attributes=attributes if isinstance(attributes, dict) else {},
    )


def _user(row: dict, what: str) -> User:
    pk = _key(row, "pk", what)
    if not isinstance(pk, int):
        raise unusable(what, "pk")
    attributes = row.get("attributes")
    return User(
        pk=pk,
        username=_text(row, "username", what),
        type=_maybe_text(row, "type", what),
        attributes=attributes if isinstance(attributes, dict) else {},
    )


def _token(row: dict, what: str) -> Token:
    user = row.get("user")
    return Token(
        identifier=_text(row, "identifier", what),
        intent=_maybe_text(row, "intent", what),
        user=user if isinstance(user, int) and not isinstance(user, bool) else None,
        expiring=row.get("expiring") is not False,
    )


def _binding(row: dict, what: str) -> Binding:
    user = row.get("user")
    return Binding(
        pk=_text(row, "pk", what),
        group=_maybe_text(row, "group", what),
        enabled=row.get("enabled") is not False,
        user=user if isinstance(user, int) and not isinstance(user, bool) else None,
    )


def _matching(rows: list[dict], field: str, value: str) -> list[dict]:
    """Exact matches only: unknown filters are ignored (200, the whole list), and some
    filters match case-insensitively or by prefix."""
    return [r for r in rows if r.get(field) == value]


def _key(row: dict, field: str, what: str) -> int | str:
    value = row.get(field)
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise unusable(what, field)
    return value


def _text(row: dict, field: str, what: str) -> str:
    return str(_key(row, field, what))


def _maybe_text(row: dict, field: str, what: str) -> str | None:
    value = row.get(field)
    if value is None:
        return None
    if isinstance(value, dict | list | bool):
        raise unusable(what, field)
    return str(value)


def _list(row: dict, field: str, what: str) -> list:
    value = row.get(field)
    if value is None:
        return []
    if not isinstance(value, list):
        raise unusable(what, field)
    return value


def _secrets_in(fields: dict[str, Any]) -> list[str]:
    return [str(fields[k]) for k in ("client_secret", "client_id") if fields.get(k)]
