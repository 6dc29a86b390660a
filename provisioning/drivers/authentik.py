"""Authentik's API v3 through the official client: OAuth2 providers, applications, bindings."""

import json
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import authentik_client as ak
import urllib3
from authentik_client.exceptions import ApiException, NotFoundException
from django.conf import settings

from provisioning.errors import StepFailed, TransientError

T = TypeVar("T")
HIDDEN = "<hidden>"


class AuthentikDriver:
    """Speaks to one Authentik; every failure leaves as TransientError or StepFailed."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        connect_timeout: float = 5,
        read_timeout: float = 30,
        verify_tls: bool = True,
    ):
        self.url = url.rstrip("/")
        self._token = token
        config = ak.Configuration(host=f"{self.url}/api/v3", access_token=token)
        config.verify_ssl = verify_tls
        # The engine retries with backoff and records each attempt; urllib3 must not retry too.
        config.retries = False
        self._client = ak.ApiClient(config)
        self._timeout = (connect_timeout, read_timeout)
        self.providers = ak.ProvidersApi(self._client)
        self.core = ak.CoreApi(self._client)
        self.flows = ak.FlowsApi(self._client)
        self.mappings = ak.PropertymappingsApi(self._client)
        self.crypto = ak.CryptoApi(self._client)
        self.policies = ak.PoliciesApi(self._client)

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
        found = self._call(f"look up flow {slug}", self.flows.flows_instances_list, slug=slug)
        if not found.results:
            raise StepFailed(f"Authentik has no flow with the slug {slug!r} (see {setting}).")
        return str(found.results[0].pk)

    def scope_mapping_pks(self, scopes: Iterable[str]) -> list[str]:
        pks = []
        for scope in scopes:
            found = self._call(
                f"look up scope mapping {scope}",
                self.mappings.propertymappings_provider_scope_list,
                scope_name=scope,
            ).results
            if not found:
                raise StepFailed(
                    f"Authentik has no scope mapping for the scope {scope!r} "
                    "(see PORTAL_AUTHENTIK_SCOPES)."
                )
            # Prefer authentik's own mapping over look-alikes someone added by hand.
            managed = f"goauthentik.io/providers/oauth2/scope-{scope}"
            chosen = next((m for m in found if m.managed == managed), found[0])
            pks.append(str(chosen.pk))
        return pks

    def signing_key_pk(self, name: str) -> str:
        found = self._call(
            f"look up certificate {name}", self.crypto.crypto_certificatekeypairs_list, name=name
        )
        if not found.results:
            raise StepFailed(
                f"Authentik has no certificate-key pair named {name!r} "
                "(see PORTAL_AUTHENTIK_SIGNING_KEY)."
            )
        return str(found.results[0].pk)

    def group_pk(self, name: str) -> str:
        found = self._call(f"look up group {name}", self.core.core_groups_list, name=name)
        if not found.results:
            raise StepFailed(
                f"Authentik has no group named {name!r} (see PORTAL_AUTHENTIK_ACCESS_GROUP)."
            )
        return str(found.results[0].pk)

    # --- OAuth2 providers ------------------------------------------------------------------------

    def provider(self, name: str) -> ak.OAuth2Provider | None:
        found = self._call(
            f"look up provider {name}", self.providers.providers_oauth2_list, name=name
        )
        return next((p for p in found.results if p.name == name), None)

    def provider_create(self, fields: dict[str, Any]) -> ak.OAuth2Provider:
        request = ak.OAuth2ProviderRequest.from_dict(fields)
        return self._call(
            f"create provider {fields['name']}",
            self.providers.providers_oauth2_create,
            request,
            hide=_secrets_in(fields),
        )

    def provider_update(self, pk: int, name: str, fields: dict[str, Any]) -> ak.OAuth2Provider:
        request = ak.PatchedOAuth2ProviderRequest.from_dict(fields)
        return self._call(
            f"update provider {name}",
            self.providers.providers_oauth2_partial_update,
            pk,
            request,
            hide=_secrets_in(fields),
        )

    def provider_delete(self, name: str) -> bool:
        """Delete the provider by name; False when there was none."""
        found = self.provider(name)
        if found is None:
            return False
        return self._delete(
            f"delete provider {name}", self.providers.providers_oauth2_destroy, found.pk
        )

    # --- applications ----------------------------------------------------------------------------

    def application(self, slug: str) -> ak.Application | None:
        try:
            return self._call(
                f"look up application {slug}", self.core.core_applications_retrieve, slug
            )
        except _Missing:
            return None

    def application_create(self, fields: dict[str, Any]) -> ak.Application:
        request = ak.ApplicationRequest.from_dict(fields)
        return self._call(
            f"create application {fields['slug']}", self.core.core_applications_create, request
        )

    def application_update(self, slug: str, fields: dict[str, Any]) -> ak.Application:
        request = ak.PatchedApplicationRequest.from_dict(fields)
        return self._call(
            f"update application {slug}", self.core.core_applications_partial_update, slug, request
        )

    def application_delete(self, slug: str) -> bool:
        """Delete the application (its policy bindings go with it); False when there was none."""
        return self._delete(f"delete application {slug}", self.core.core_applications_destroy, slug)

    # --- who may open an application -------------------------------------------------------------

    def group_bindings(self, target: str) -> list[ak.PolicyBinding]:
        found = self._call(
            "look up the application's bindings",
            self.policies.policies_bindings_list,
            target=target,
        )
        return [b for b in found.results if b.group]

    def group_binding_create(self, target: str, group: str) -> ak.PolicyBinding:
        request = ak.PolicyBindingRequest(target=target, group=group, order=0, enabled=True)
        return self._call("bind the access group", self.policies.policies_bindings_create, request)

    def binding_delete(self, pk: str) -> bool:
        return self._delete("remove a group binding", self.policies.policies_bindings_destroy, pk)

    # --- calling and errors ----------------------------------------------------------------------

    def _delete(self, what: str, fn: Callable[..., Any], *args: Any) -> bool:
        try:
            self._call(what, fn, *args)
        except _Missing:
            return False  # gone already: exactly what a delete wants
        return True

    def _call(
        self, what: str, fn: Callable[..., T], *args: Any, hide: Iterable[str] = (), **kwargs: Any
    ) -> T:
        """Call the client; translate its failures into the engine's two kinds of error."""
        hide = [self._token, *hide]
        try:
            return fn(*args, **kwargs, _request_timeout=self._timeout)
        except NotFoundException as exc:
            raise _Missing(what) from exc
        except ApiException as exc:
            raise _api_error(what, exc, hide) from None
        except urllib3.exceptions.HTTPError as exc:
            # Connection refused, reset, timed out: the same call may well work in a minute.
            raise TransientError(
                f"Authentik at {self.url} did not answer ({exc.__class__.__name__}) "
                f"while trying to {what}."
            ) from None

    def __repr__(self) -> str:  # never the token
        return f"<AuthentikDriver {self.url}>"


class _Missing(TransientError):
    """A 404 from Authentik. Where not expected, the object vanished meanwhile: try again."""

    def __init__(self, what: str):
        super().__init__(f"Authentik lost the object while trying to {what}; trying again.")


def _secrets_in(fields: dict[str, Any]) -> list[str]:
    return [str(fields[k]) for k in ("client_secret", "client_id") if fields.get(k)]


def _api_error(what: str, exc: ApiException, hide: list[str]) -> Exception:
    status = exc.status or 0
    said = _redact(_explain(exc.body), hide)
    if status == 429 or status >= 500:
        return TransientError(f"Authentik answered {status} while trying to {what}: {said}")
    if status == 0:  # the client's own wrapping of a TLS failure: configuration, not luck
        return StepFailed(f"Authentik's TLS connection failed while trying to {what}: {said}")
    if status == 401:
        return StepFailed(
            f"Authentik rejected the API token (401) while trying to {what}: {said} "
            "Check PORTAL_AUTHENTIK_TOKEN."
        )
    if status == 403:
        return StepFailed(
            f"Authentik refused to {what} (403 Forbidden): {said} The token's user needs "
            "permissions on OAuth2 providers, applications and policy bindings."
        )
    return StepFailed(f"Authentik refused to {what} ({status}): {said}")


def _explain(body: str | bytes | None) -> str:
    """Authentik's error body in words: `field: message` pairs or its `detail`."""
    if not body:
        return "no details given."
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    try:
        data = json.loads(body)
    except ValueError:
        return body[:300]
    if isinstance(data, dict):
        if isinstance(data.get("detail"), str):
            return data["detail"]
        parts = [f"{field}: {_words(value)}" for field, value in data.items() if field != "code"]
        return "; ".join(parts) + "." if parts else "no details given."
    return _words(data)


def _words(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(_words(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_words(v)}" for k, v in value.items())
    return str(value).rstrip(".")


def _redact(text: str, hide: list[str]) -> str:
    for value in hide:
        if value and len(value) >= 8:
            text = text.replace(value, HIDDEN)
    return text
