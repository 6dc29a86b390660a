"""A small stateful fake of Authentik's API v3: the endpoints the sso step uses, on loopback.

Field names, status codes, error bodies and the pagination envelope follow what a real
Authentik 2025.8.1 answered (tests/recordings/authentik-2025.8.1/, held to it by
tests/provisioning/test_authentik_conformance.py).

Not recorded, and so modelled on Authentik's API schema and docs instead (a real exchange would
replace this): adding and removing a group's members (/core/groups/<pk>/add_user/ and
remove_user/, as authentik/core/api/groups.py answers them), creating and deleting users
(/core/users/, core_users_create), app-password tokens (/core/tokens/, core_tokens_create,
core_tokens_view_key_retrieve: GET
/core/tokens/<identifier>/view_key/ -> {"key": ...}), and the OAuth2 token endpoint's
client_credentials grant (/application/o/token/, form-encoded client_id + username +
password=<app password>, docs.goauthentik.io/add-secure-apps/providers/oauth2/machine_to_machine),
and its introspection endpoint (/application/o/introspect/, RFC 7662).
"""

import base64
import json
import re
import secrets
import threading
import time
import uuid
from collections import defaultdict
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.fakes.loopback import LoopbackServer

API = "/api/v3"
SLUG = re.compile(r"^[-a-zA-Z0-9_]+$")
MANAGED_SCOPE = "goauthentik.io/providers/oauth2/scope-{}"


class FakeAuthentik(LoopbackServer):
    """The state of one fake Authentik plus the HTTP server that serves it."""

    def __init__(self, token: str = "test-api-token"):
        self.token = token
        self.lock = threading.Lock()
        self.flows: dict[str, dict] = {}
        self.scope_mappings: dict[str, dict] = {}
        self.keypairs: dict[str, dict] = {}
        self.groups: dict[str, dict] = {}
        self.users: dict[int, dict] = {}
        self.providers: dict[int, dict] = {}
        self.applications: dict[str, dict] = {}
        self.bindings: dict[str, dict] = {}
        self.tokens: dict[str, dict] = {}  # by identifier, as authentik's API looks them up
        self.token_keys: dict[str, str] = {}  # identifier -> key (never in a token's answer)
        self.user_extras: dict[int, dict] = {}  # fields /core/users/ adds to the group view
        self.issued: list[dict] = []  # the access tokens /application/o/token/ granted
        self.requests: list[tuple[str, str]] = []  # (method, path) of every call, in order
        # Retry-After sent with an answer of that status (a test may change or add one, e.g. 503).
        self.retry_after: dict[int, str] = {429: "1"}
        # Seconds every request is held, like an API across a network (bench/); and, when
        # `calls` is a list, every request's method, path with query and body.
        self.latency = 0.0
        self.calls: list[tuple[str, str, bytes]] | None = None
        self._faults: dict[str, list[tuple[str | None, int, dict]]] = defaultdict(list)
        self._delays: dict[str, list[float]] = defaultdict(list)
        # Filters this fake pretends not to know, like an Authentik without them: ignored.
        self.ignored_filters: set[str] = set()
        # Rewrites every answer on the wire (not the state), e.g. to look like another version.
        self.reshape = None
        self._next_pk = 1
        for slug, designation in (
            ("default-provider-authorization-implicit-consent", "authorization"),
            ("default-provider-authorization-explicit-consent", "authorization"),
            ("default-provider-invalidation-flow", "invalidation"),
        ):
            self.add_flow(slug, designation)
        for scope in ("openid", "email", "profile"):
            self.add_scope_mapping(scope, managed=MANAGED_SCOPE.format(scope))
        self.add_keypair("authentik Self-signed Certificate")
        self.listen(_handler(self))

    # --- seeding and inspecting ------------------------------------------------------------------

    def add_flow(self, slug: str, designation: str) -> dict:
        pk = str(uuid.uuid4())
        self.flows[pk] = {
            "pk": pk,
            "policybindingmodel_ptr_id": str(uuid.uuid4()),
            "name": slug.replace("-", " ").title(),
            "slug": slug,
            "title": slug,
            "designation": designation,
            # 2025.8 sends `background`; `background_url` (which newer clients want) is absent.
            "background": "/static/dist/assets/images/flow_background.jpg",
            "stages": [],
            "policies": [],
            "cache_count": 0,
            "policy_engine_mode": "any",
            "compatibility_mode": False,
            "export_url": f"{API}/flows/instances/{slug}/export/",
            "layout": "stacked",
            "denied_action": "message_continue",
            "authentication": "none",
        }
        return self.flows[pk]

    def add_scope_mapping(self, scope: str, managed: str | None = None) -> dict:
        pk = str(uuid.uuid4())
        self.scope_mappings[pk] = {
            "pk": pk,
            "managed": managed,
            "name": f"authentik default OAuth Mapping: OpenID '{scope}'",
            "expression": "return {}",
            "component": "ak-property-mapping-provider-scope-form",
            "verbose_name": "Scope Mapping",
            "verbose_name_plural": "Scope Mappings",
            "meta_model_name": "authentik_providers_oauth2.scopemapping",
            "scope_name": scope,
            "description": f"General Profile Information ({scope})",
        }
        return self.scope_mappings[pk]

    def add_keypair(self, name: str) -> dict:
        pk = str(uuid.uuid4())
        self.keypairs[pk] = {
            "pk": pk,
            "name": name,
            "fingerprint_sha256": "43:7b:36:65",
            "fingerprint_sha1": "d4:a5:57:24",
            "cert_expiry": "2027-12-02T04:58:46Z",
            "cert_subject": f"OU=Self-signed,O=authentik,CN={name}",
            "private_key_available": True,
            "private_key_type": "rsa",
            "certificate_download_url": (
                f"{API}/crypto/certificatekeypairs/{pk}/view_certificate/?download"
            ),
            "private_key_download_url": (
                f"{API}/crypto/certificatekeypairs/{pk}/view_private_key/?download"
            ),
            "managed": None,
        }
        return self.keypairs[pk]

    def add_user(self, username: str, email: str = "", active: bool = True) -> dict:
        """A user as the group answers show them (users_obj); /core/users/ answers more."""
        pk = len(self.users) + 2000
        self.users[pk] = {
            "pk": pk,
            "username": username,
            "name": username.title(),
            "is_active": active,
            "last_login": None,
            "email": email or f"{username}@example.com",
            "attributes": {},
            "uid": uuid.uuid4().hex * 2,
        }
        return self.users[pk]

    def may_open(self, username: str, app_slug: str) -> bool:
        """Authentik's policy engine for an application bound to groups or users (mode "any"):
        no binding lets everyone in, else the user must be a bound one or in a bound group."""
        app = self.applications[app_slug]
        user = next(pk for pk, u in self.users.items() if u["username"] == username)
        bound = [b for b in self.bindings.values() if b["target"] == app["pk"] and b["enabled"]]
        return not bound or any(
            b.get("user") == user or (b.get("group") and user in self.groups[b["group"]]["users"])
            for b in bound
        )

    def members(self, group_name: str) -> set[str]:
        group = next(g for g in self.groups.values() if g["name"] == group_name)
        return {self.users[pk]["username"] for pk in group["users"]}

    def add_group(self, name: str, attributes: dict | None = None) -> dict:
        pk = str(uuid.uuid4())
        self.groups[pk] = {
            "pk": pk,
            "num_pk": len(self.groups) + 1000,
            "name": name,
            "is_superuser": False,
            "parent": None,
            "parent_name": None,
            "users": [],
            "users_obj": [],
            "attributes": dict(attributes or {}),
            "roles": [],
            "roles_obj": [],
            "children": [],
            "children_obj": None,
        }
        return self.groups[pk]

    def provider_named(self, name: str) -> dict | None:
        return next((p for p in self.providers.values() if p["name"] == name), None)

    def writes(self) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.requests if m != "GET"]

    def fail_next(
        self,
        path: str,
        status: int,
        times: int = 1,
        body: dict | None = None,
        method: str | None = None,
    ) -> None:
        """The next `times` calls to `path` (e.g. /api/v3/providers/oauth2/), of any method or
        only `method`, answer `status` with `body`."""
        body = body or {"detail": f"Injected failure {status}."}
        with self.lock:
            self._faults[path] += [(method, status, body)] * times

    def delay_next(self, path: str, seconds: float) -> None:
        """The next call to `path` is answered only after `seconds`."""
        with self.lock:
            self._delays[path].append(seconds)

    def delay_for(self, path: str) -> float:
        with self.lock:
            delays = self._delays.get(path)
            return delays.pop(0) if delays else 0

    # --- the API ---------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict, body) -> tuple[int, object]:
        with self.lock:
            self.requests.append((method, path))
            faults = self._faults.get(path, [])
            for i, (only, status, payload) in enumerate(faults):
                if only in (None, method):
                    del faults[i]
                    return status, payload
            if not path.startswith(API + "/"):
                return 404, {"detail": "Not found."}
            route = path[len(API) :]
            for pattern, handlers in self._routes():
                match = re.fullmatch(pattern, route)
                if match:
                    handler = handlers.get(method)
                    if handler is None:
                        return 405, {"detail": f'Method "{method}" not allowed.'}
                    return handler(query, body, *match.groups())
            return 404, {"detail": "Not found."}

    def _routes(self):
        return [
            (r"/flows/instances/", {"GET": self._list(self.flows, "slug", "name")}),
            (r"/flows/instances/([^/]+)/", {"GET": self._flow_get}),
            (
                r"/propertymappings/provider/scope/",
                {"GET": self._list(self.scope_mappings, "scope_name", "name", "managed")},
            ),
            (r"/crypto/certificatekeypairs/", {"GET": self._list(self.keypairs, "name")}),
            (r"/crypto/certificatekeypairs/([^/]+)/", {"GET": self._keypair_get}),
            (
                r"/core/groups/",
                {
                    "GET": self._list(self.groups, "name", out=self._group_out),
                    "POST": self._group_create,
                },
            ),
            (r"/core/groups/([^/]+)/", {"DELETE": self._group_delete}),
            (r"/core/groups/([^/]+)/add_user/", {"POST": self._group_member(add=True)}),
            (r"/core/groups/([^/]+)/remove_user/", {"POST": self._group_member(add=False)}),
            (
                r"/core/users/",
                {
                    "GET": self._list(self.users, "username", out=self._user_out),
                    "POST": self._user_create,
                },
            ),
            (r"/core/users/(\d+)/", {"GET": self._user_get, "DELETE": self._user_delete}),
            (
                r"/core/tokens/",
                {
                    "GET": self._list(self.tokens, "identifier", "intent", out=self._token_out),
                    "POST": self._token_create,
                },
            ),
            (
                r"/core/tokens/([^/]+)/",
                {"GET": self._token_get, "PATCH": self._token_patch, "DELETE": self._token_delete},
            ),
            (r"/core/tokens/([^/]+)/view_key/", {"GET": self._token_view_key}),
            (
                r"/providers/oauth2/",
                {
                    "GET": self._list(self.providers, "name", "client_id", out=self._provider_out),
                    "POST": self._provider_create,
                },
            ),
            (
                r"/providers/oauth2/(\d+)/",
                {
                    "GET": self._provider_get,
                    "PATCH": self._provider_patch,
                    "DELETE": self._provider_delete,
                },
            ),
            (
                r"/core/applications/",
                {
                    "GET": self._list(self.applications, "slug", "name", out=self._app_out),
                    "POST": self._app_create,
                },
            ),
            (
                r"/core/applications/([^/]+)/",
                {"GET": self._app_get, "PATCH": self._app_patch, "DELETE": self._app_delete},
            ),
            (
                r"/policies/bindings/",
                {"GET": self._list(self.bindings, "target"), "POST": self._binding_create},
            ),
            (r"/policies/bindings/([^/]+)/", {"DELETE": self._binding_delete}),
        ]

    def _list(self, table: dict, *filters: str, out=dict):
        """A list with exact-match filters; any other query parameter is ignored, as authentik
        ignores filters it doesn't know (200 and the whole list)."""

        def handler(query, body):
            rows = [
                out(row)
                for row in table.values()
                if all(
                    str(row.get(f)) == query[f][0]
                    for f in filters
                    if f in query and f not in self.ignored_filters
                )
            ]
            return _page(rows, query)

        return handler

    def _flow_get(self, query, body, slug):
        flow = next((f for f in self.flows.values() if f["slug"] == slug), None)
        if flow is None:
            return 404, {"detail": "No Flow matches the given query."}
        return 200, flow

    def _keypair_get(self, query, body, pk):
        if pk not in self.keypairs:
            return 404, {"detail": "No CertificateKeyPair matches the given query."}
        return 200, self.keypairs[pk]

    def _group_create(self, query, body):
        if not body.get("name"):
            return 400, {"name": ["This field is required."]}
        if any(g["name"] == body["name"] for g in self.groups.values()):
            return 400, {"name": ["Group with this name already exists."]}
        attributes = body.get("attributes") or {}
        if not isinstance(attributes, dict):
            return 400, {"attributes": ["Value must be valid JSON."]}
        return 201, self._group_out(self.add_group(body["name"], attributes))

    def _group_out(self, group: dict) -> dict:
        return {**group, "users_obj": [dict(self.users[pk]) for pk in group["users"]]}

    def _group_delete(self, query, body, pk):
        if self.groups.pop(pk, None) is None:
            return 404, {"detail": "No Group matches the given query."}
        for key in [k for k, b in self.bindings.items() if b.get("group") == pk]:
            del self.bindings[key]
        return 204, None

    def _group_member(self, add: bool):
        """add_user / remove_user: {"pk": <user pk>} -> 204, empty. Not recorded (no exchange in
        the recordings has them), so as Authentik's source has it (authentik/core/api/
        groups.py, GroupViewSet.add_user/remove_user): the body's pk is looked up among the
        users the token may view and a miss raises a bare Http404, which DRF answers 404
        {"detail": "Not found."} (its NotFound's default detail); the body is not validated, so
        a missing pk is such a miss too, and removing a non-member is a 204 that changes
        nothing. The group itself is found first (get_object): a missing one is "No Group
        matches the given query." as in the recordings."""

        def handler(query, body, pk):
            group = self.groups.get(pk)
            if group is None:
                return 404, {"detail": "No Group matches the given query."}
            user = body.get("pk") if isinstance(body, dict) else None
            if isinstance(user, str) and user.isdigit():
                user = int(user)  # the ORM's lookup takes "5" for 5
            if isinstance(user, bool) or user not in self.users:
                return 404, {"detail": "Not found."}
            if add and user not in group["users"]:
                group["users"].append(user)
            if not add and user in group["users"]:
                group["users"].remove(user)
            return 204, None

        return handler

    # users and their app-password tokens (not recorded: see the module's docstring)

    def _user_out(self, user: dict) -> dict:
        extras = self.user_extras.get(user["pk"], {"type": "internal", "path": "users"})
        groups = [g["pk"] for g in self.groups.values() if user["pk"] in g["users"]]
        return {**user, "is_superuser": False, "groups": groups, "uuid": user["uid"], **extras}

    def _user_create(self, query, body):
        username = body.get("username")
        if not username or not body.get("name"):
            missing = [f for f in ("username", "name") if not body.get(f)]
            return 400, {f: ["This field is required."] for f in missing}
        if any(u["username"] == username for u in self.users.values()):
            return 400, {"username": ["A user with that username already exists."]}
        kind = body.get("type", "internal")
        if kind not in ("internal", "external", "service_account", "internal_service_account"):
            return 400, {"type": [f'"{kind}" is not a valid choice.']}
        if not isinstance(body.get("attributes", {}), dict):
            return 400, {"attributes": ["Value must be valid JSON."]}
        user = self.add_user(username)
        user.update(
            name=body["name"],
            email=body.get("email", ""),
            is_active=body.get("is_active", True),
            attributes=dict(body.get("attributes") or {}),
        )
        self.user_extras[user["pk"]] = {"type": kind, "path": body.get("path") or "users"}
        return 201, self._user_out(user)

    def _user_get(self, query, body, pk):
        user = self.users.get(int(pk))
        if user is None:
            return 404, {"detail": "No User matches the given query."}
        return 200, self._user_out(user)

    def _user_delete(self, query, body, pk):
        if self.users.pop(int(pk), None) is None:
            return 404, {"detail": "No User matches the given query."}
        # A user's tokens and memberships go with it (Token.user is on_delete=CASCADE).
        for identifier in [i for i, t in self.tokens.items() if t["user"] == int(pk)]:
            self.tokens.pop(identifier)
            self.token_keys.pop(identifier)
        for group in self.groups.values():
            if int(pk) in group["users"]:
                group["users"].remove(int(pk))
        for key in [k for k, b in self.bindings.items() if b.get("user") == int(pk)]:
            del self.bindings[key]
        return 204, None

    def _token_out(self, token: dict) -> dict:
        # TokenSerializer: user_obj is the user's full answer; the key is never part of it.
        return {**token, "user_obj": self._user_out(self.users[token["user"]])}

    def _token_create(self, query, body):
        errors: dict[str, list[str]] = {}
        identifier = body.get("identifier")
        if not identifier:
            errors["identifier"] = ["This field is required."]
        elif not SLUG.match(identifier):
            errors["identifier"] = ["Enter a valid “slug” consisting of letters, numbers, "
                                    "underscores or hyphens."]  # fmt: skip
        elif identifier in self.tokens:
            errors["identifier"] = ["Token with this identifier already exists."]
        if body.get("user") not in self.users:
            errors["user"] = [f'Invalid pk "{body.get("user")}" - object does not exist.']
        intent = body.get("intent", "api")
        if intent not in ("verification", "api", "recovery", "app_password"):
            errors["intent"] = [f'"{intent}" is not a valid choice.']
        if errors:
            return 400, errors
        expiring = body.get("expiring", True)
        # authentik's default_token_duration: 30 minutes unless the caller says otherwise.
        expires = body.get("expires") or time.strftime(
            "%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime(time.time() + 30 * 60)
        )
        token = {
            "pk": str(uuid.uuid4()),
            "managed": None,
            "identifier": identifier,
            "intent": intent,
            "user": body["user"],
            "description": body.get("description", ""),
            "expires": expires if expiring else None,
            "expiring": bool(expiring),
        }
        self.tokens[identifier] = token
        self.token_keys[identifier] = secrets.token_urlsafe(48)
        return 201, self._token_out(token)

    def _token_get(self, query, body, identifier):
        token = self.tokens.get(identifier)
        if token is None:
            return 404, {"detail": "No Token matches the given query."}
        return 200, self._token_out(token)

    def _token_patch(self, query, body, identifier):
        token = self.tokens.get(identifier)
        if token is None:
            return 404, {"detail": "No Token matches the given query."}
        for field in ("description", "expiring", "expires"):
            if field in body:
                token[field] = body[field]
        if token["expiring"] is False:
            token["expires"] = None
        return 200, self._token_out(token)

    def _token_delete(self, query, body, identifier):
        if self.tokens.pop(identifier, None) is None:
            return 404, {"detail": "No Token matches the given query."}
        self.token_keys.pop(identifier)
        return 204, None

    def _token_view_key(self, query, body, identifier):
        if identifier not in self.tokens or not self._unexpired(self.tokens[identifier]):
            return 404, {"detail": "Token not found or expired"}
        return 200, {"key": self.token_keys[identifier]}

    @staticmethod
    def _unexpired(token: dict) -> bool:
        if not token["expiring"]:
            return True
        stamp = time.strptime(token["expires"][:19], "%Y-%m-%dT%H:%M:%S")
        return time.mktime(stamp) - time.timezone > time.time()

    # the OAuth2 token endpoint (not under /api/v3, no bearer token: the form authenticates)

    def grant(self, form: dict[str, str]) -> tuple[int, dict]:
        """/application/o/token/ for grant_type client_credentials (or password, which authentik
        treats alike): the provider by client_id, the user by username, and an unexpired
        app_password token of that user whose key is the password. Anything else is refused
        with the error authentik's TokenParams raises. Not modelled: the 2024.4+ variants
        (base64 username:key, or the provider's own secret) the portal doesn't use."""
        with self.lock:
            self.requests.append(("POST", "/application/o/token/"))
            if form.get("grant_type") not in ("client_credentials", "password"):
                return 400, {"error": "unsupported_grant_type", "error_description": ""}
            provider = next(
                (p for p in self.providers.values() if p["client_id"] == form.get("client_id")),
                None,
            )
            if provider is None:
                return 400, _OAUTH_ERRORS["invalid_client"]
            user = next(
                (u for u in self.users.values() if u["username"] == form.get("username")), None
            )
            token = next(
                (
                    t
                    for i, t in self.tokens.items()
                    if self.token_keys[i] == form.get("password")
                    and t["intent"] == "app_password"
                    and self._unexpired(t)
                ),
                None,
            )
            if user is None or token is None or token["user"] != user["pk"]:
                return 400, _OAUTH_ERRORS["invalid_grant"]
            if not user["is_active"]:
                return 400, _OAUTH_ERRORS["invalid_grant"]
            app = next(
                (a for a in self.applications.values() if a["provider"] == provider["pk"]), None
            )
            if app is None or not self.may_open(user["username"], app["slug"]):
                return 400, _OAUTH_ERRORS["invalid_grant"]
            access = secrets.token_urlsafe(32)
            self.issued.append(
                {"access_token": access, "client_id": provider["client_id"], "user": user["pk"]}
            )
            return 200, {
                "access_token": access,
                "token_type": "Bearer",
                "scope": form.get("scope", ""),
                "expires_in": 3600,
                "id_token": access,
            }

    def introspect(self, client_id: str, client_secret: str, token: str) -> tuple[int, dict]:
        """/application/o/introspect/ (RFC 7662) as authentik's TokenIntrospectionView answers:
        the calling provider authenticates with its client id and secret, and a token is active
        only if that provider issued it; anything else is {"active": false}, status 200.
        Modelled on authentik's docs and source (not recorded)."""
        with self.lock:
            self.requests.append(("POST", "/application/o/introspect/"))
            provider = next(
                (
                    p
                    for p in self.providers.values()
                    if p["client_id"] == client_id and p["client_secret"] == client_secret
                ),
                None,
            )
            issued = next((t for t in self.issued if t["access_token"] == token), None)
            if provider is None or issued is None or issued["client_id"] != client_id:
                return 200, {"active": False}
            now = int(time.time())
            return 200, {
                "active": True,
                "client_id": client_id,
                "aud": client_id,
                "sub": str(issued["user"]),
                "iat": now,
                "exp": now + 3600,
                "scope": "",
            }

    # providers

    def _provider_create(self, query, body):
        errors = self._provider_errors(body, partial=False)
        if errors:
            return 400, errors
        pk = self._next_pk
        self._next_pk += 1
        provider = {
            "pk": pk,
            "authentication_flow": None,
            "property_mappings": [],
            "component": "ak-provider-oauth2-form",
            "assigned_application_slug": None,
            "assigned_application_name": None,
            "verbose_name": "OAuth2/OpenID Provider",
            "verbose_name_plural": "OAuth2/OpenID Providers",
            "meta_model_name": "authentik_providers_oauth2.oauth2provider",
            "client_type": "confidential",
            # authentik generates these when the caller gives none
            "client_id": uuid.uuid4().hex,
            "client_secret": uuid.uuid4().hex + uuid.uuid4().hex,
            "access_code_validity": "minutes=1",
            "access_token_validity": "hours=1",
            "refresh_token_validity": "days=30",
            "include_claims_in_id_token": True,
            "signing_key": None,
            "encryption_key": None,
            "backchannel_logout_uri": "",
            "sub_mode": "hashed_user_id",
            "issuer_mode": "per_provider",
            "jwt_federation_sources": [],
            "jwt_federation_providers": [],
        }
        provider.update(body)
        self.providers[pk] = provider
        return 201, self._provider_out(provider)

    def _provider_errors(self, body, partial: bool, pk: int | None = None) -> dict:
        errors: dict[str, list[str]] = {}
        required = ("name", "authorization_flow", "invalidation_flow", "redirect_uris")
        for field in required:
            if not partial and not body.get(field):
                errors[field] = ["This field is required."]
        name = body.get("name")
        if name and any(p["name"] == name and p["pk"] != pk for p in self.providers.values()):
            errors["name"] = ["provider with this name already exists."]
        for field in ("authorization_flow", "invalidation_flow"):
            value = body.get(field)
            if value and value not in self.flows:
                errors[field] = [f'Invalid pk "{value}" - object does not exist.']
        for value in body.get("property_mappings") or []:
            if value not in self.scope_mappings:
                errors["property_mappings"] = [f'Invalid pk "{value}" - object does not exist.']
        key = body.get("signing_key")
        if key and key not in self.keypairs:
            errors["signing_key"] = [f'Invalid pk "{key}" - object does not exist.']
        if body.get("client_type") not in (None, "confidential", "public"):
            errors["client_type"] = [f'"{body["client_type"]}" is not a valid choice.']
        for uri in body.get("redirect_uris") or []:
            if uri.get("matching_mode") not in ("strict", "regex") or not uri.get("url"):
                errors["redirect_uris"] = ["Each redirect URI needs a matching_mode and a url."]
            elif uri["matching_mode"] == "regex":
                try:
                    re.compile(uri["url"])
                except re.error:
                    errors["redirect_uris"] = [f"Invalid regular expression: {uri['url']}"]
        client_id = body.get("client_id")
        if client_id and any(
            p["client_id"] == client_id and p["pk"] != pk for p in self.providers.values()
        ):
            errors["client_id"] = ["OAuth2/OpenID Provider with this Client ID already exists."]
        return errors

    def _provider_out(self, provider: dict) -> dict:
        app = next((a for a in self.applications.values() if a["provider"] == provider["pk"]), None)
        out = dict(provider)
        out["assigned_application_slug"] = app["slug"] if app else None
        out["assigned_application_name"] = app["name"] if app else None
        out["redirect_uris"] = [
            {"matching_mode": u["matching_mode"], "url": u["url"]}
            for u in provider["redirect_uris"]
        ]
        return out

    def _provider_get(self, query, body, pk):
        provider = self.providers.get(int(pk))
        if provider is None:
            return 404, {"detail": "No OAuth2Provider matches the given query."}
        return 200, self._provider_out(provider)

    def _provider_patch(self, query, body, pk):
        provider = self.providers.get(int(pk))
        if provider is None:
            return 404, {"detail": "No OAuth2Provider matches the given query."}
        errors = self._provider_errors(body, partial=True, pk=int(pk))
        if errors:
            return 400, errors
        provider.update(body)
        return 200, self._provider_out(provider)

    def _provider_delete(self, query, body, pk):
        if self.providers.pop(int(pk), None) is None:
            return 404, {"detail": "No OAuth2Provider matches the given query."}
        for app in self.applications.values():  # on_delete=SET_NULL, as in authentik
            if app["provider"] == int(pk):
                app["provider"] = None
        return 204, None

    # applications

    def _app_errors(self, body, partial: bool, slug: str | None = None) -> dict:
        errors: dict[str, list[str]] = {}
        for field in ("name", "slug"):
            if not partial and not body.get(field):
                errors[field] = ["This field is required."]
        new_slug = body.get("slug")
        if new_slug and not SLUG.match(new_slug):
            errors["slug"] = [
                "Enter a valid “slug” consisting of letters, numbers, underscores or hyphens."
            ]
        elif new_slug and new_slug != slug and new_slug in self.applications:
            errors["slug"] = ["Application with this slug already exists."]
        provider = body.get("provider")
        if provider is not None:
            if provider not in self.providers:
                errors["provider"] = [f'Invalid pk "{provider}" - object does not exist.']
            elif any(
                a["provider"] == provider and a["slug"] != slug for a in self.applications.values()
            ):
                errors["provider"] = ["Application with this provider already exists."]
        return errors

    def _app_out(self, app: dict) -> dict:
        out = dict(app)
        provider = self.providers.get(app["provider"]) if app["provider"] else None
        out["provider_obj"] = (
            {
                key: self._provider_out(provider)[key]
                for key in (
                    "pk",
                    "name",
                    "authentication_flow",
                    "authorization_flow",
                    "invalidation_flow",
                    "property_mappings",
                    "component",
                    "assigned_application_slug",
                    "assigned_application_name",
                    "verbose_name",
                    "verbose_name_plural",
                    "meta_model_name",
                )
            }  # fmt: skip
            if provider
            else None
        )
        out["launch_url"] = app["meta_launch_url"] or None
        return out

    def _app_create(self, query, body):
        errors = self._app_errors(body, partial=False)
        if errors:
            return 400, errors
        app = {
            "pk": str(uuid.uuid4()),
            "provider": None,
            "backchannel_providers": [],
            "backchannel_providers_obj": [],
            "open_in_new_tab": False,
            "meta_launch_url": "",
            "meta_icon": None,
            "meta_description": "",
            "meta_publisher": "",
            "policy_engine_mode": "any",
            "group": "",
        }
        app.update(body)
        self.applications[app["slug"]] = app
        return 201, self._app_out(app)

    def _app_get(self, query, body, slug):
        app = self.applications.get(slug)
        if app is None:
            return 404, {"detail": "No Application matches the given query."}
        return 200, self._app_out(app)

    def _app_patch(self, query, body, slug):
        app = self.applications.get(slug)
        if app is None:
            return 404, {"detail": "No Application matches the given query."}
        errors = self._app_errors(body, partial=True, slug=slug)
        if errors:
            return 400, errors
        app.update(body)
        if app["slug"] != slug:
            self.applications[app["slug"]] = self.applications.pop(slug)
        return 200, self._app_out(app)

    def _app_delete(self, query, body, slug):
        app = self.applications.pop(slug, None)
        if app is None:
            return 404, {"detail": "No Application matches the given query."}
        # Bindings belong to their target and go with it (PolicyBindingModel cascade).
        for pk in [pk for pk, b in self.bindings.items() if b["target"] == app["pk"]]:
            del self.bindings[pk]
        return 204, None

    # policy bindings

    def _binding_create(self, query, body):
        targets = {a["pk"] for a in self.applications.values()}
        errors: dict[str, list[str]] = {}
        if body.get("target") not in targets:
            errors["target"] = [f'Invalid pk "{body.get("target")}" - object does not exist.']
        if body.get("group") and body["group"] not in self.groups:
            errors["group"] = [f'Invalid pk "{body["group"]}" - object does not exist.']
        if body.get("user") is not None and body["user"] not in self.users:
            errors["user"] = [f'Invalid pk "{body["user"]}" - object does not exist.']
        if "order" not in body:
            errors["order"] = ["This field is required."]
        if errors:
            return 400, errors
        pk = str(uuid.uuid4())
        group = self.groups.get(body.get("group"))
        binding = {
            "pk": pk,
            "policy": None,
            "group": None,
            "user": None,
            "policy_obj": None,
            "group_obj": None,
            "user_obj": None,
            "negate": False,
            "enabled": True,
            "timeout": 30,
            "failure_result": False,
            **body,
        }
        if group:
            binding["group_obj"] = dict(group)
        if binding["user"] is not None:
            binding["user_obj"] = self._user_out(self.users[binding["user"]])
        self.bindings[pk] = binding
        return 201, binding

    def _binding_delete(self, query, body, pk):
        if self.bindings.pop(pk, None) is None:
            return 404, {"detail": "No PolicyBinding matches the given query."}
        return 204, None


_OAUTH_ERRORS = {
    # authentik.providers.oauth2.errors.TokenError / ClientIdError descriptions (RFC 6749 5.2).
    "invalid_client": {
        "error": "invalid_client",
        "error_description": "Client authentication failed (e.g., unknown client, no client "
        "authentication included, or unsupported authentication method)",
    },
    "invalid_grant": {
        "error": "invalid_grant",
        "error_description": "The provided authorization grant or refresh token is invalid, "
        "expired, revoked, does not match the redirection URI used in the authorization "
        "request, or was issued to another client",
    },
}


def _page(rows: list, query: dict) -> tuple[int, dict]:
    page = int(query.get("page", ["1"])[0])
    size = int(query.get("page_size", ["100"])[0])
    total = max(1, -(-len(rows) // size))
    if not 1 <= page <= total:
        return 404, {"detail": "Invalid page."}
    chunk = rows[(page - 1) * size : page * size]
    return 200, {
        "pagination": {
            "next": page + 1 if page < total else 0,
            "previous": page - 1 if page > 1 else 0,
            "count": len(rows),
            "current": page,
            "total_pages": total,
            "start_index": (page - 1) * size + 1 if chunk else 0,
            "end_index": (page - 1) * size + len(chunk),
        },
        "results": chunk,
        "autocomplete": {},
    }


def _handler(fake: FakeAuthentik):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # quiet: pytest shows failures, not traffic
            return

        def _serve(self, method: str):
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if parts.path == "/application/o/token/" and method == "POST":
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                return self._send(*fake.grant(form))
            if parts.path == "/application/o/introspect/" and method == "POST":
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
                basic = self.headers.get("Authorization") or ""
                if basic.startswith("Basic "):
                    pair = base64.b64decode(basic[6:]).decode(errors="replace")
                    client_id, _, client_secret = pair.partition(":")
                return self._send(*fake.introspect(client_id, client_secret, form.get("token", "")))
            auth = self.headers.get("Authorization")
            # authentik answers 403, not 401, whatever is wrong with the credentials.
            if not auth:
                return self._send(403, {"detail": "Authentication credentials were not provided."})
            if not auth.startswith("Bearer "):
                return self._send(403, {"detail": "Unsupported authentication type"})
            if auth != f"Bearer {fake.token}":
                return self._send(403, {"detail": "Token invalid/expired"})
            try:
                body = json.loads(raw) if raw else {}
            except ValueError:
                return self._send(400, {"detail": "JSON parse error."})
            time.sleep(fake.delay_for(parts.path) + fake.latency)
            if fake.calls is not None:
                with fake.lock:
                    fake.calls.append((method, self.path, raw))
            status, payload = fake.handle(method, parts.path, parse_qs(parts.query), body)
            self._send(status, payload)

        def _send(self, status: int, payload) -> None:
            if fake.reshape and payload is not None and status < 400:
                payload = fake.reshape(payload)
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            if payload is not None:
                self.send_header("Content-Type", "application/json")
            if status in fake.retry_after:
                self.send_header("Retry-After", fake.retry_after[status])
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            self._serve("GET")

        def do_POST(self):
            self._serve("POST")

        def do_PATCH(self):
            self._serve("PATCH")

        def do_PUT(self):
            self._serve("PUT")

        def do_DELETE(self):
            self._serve("DELETE")

    return Handler
