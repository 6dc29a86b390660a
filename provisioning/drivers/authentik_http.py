"""Authentik's API v3 over plain HTTP: one session, timeouts, retries within a budget."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
import urllib3

from provisioning.drivers.retry import IDEMPOTENT, retrying, unavailable
from provisioning.errors import StepFailed, TransientError, Unavailable

SYSTEM = "Authentik"
HIDDEN = "<hidden>"
# How many pages a list may span before we stop following `next` (a server gone wrong).
MAX_PAGES = 50
# What authentik says when the token itself is the problem (it answers 403 for these, not 401).
TOKEN_PROBLEMS = (
    "Token invalid/expired",
    "Authentication credentials were not provided.",
    "Unsupported authentication type",
)
VERBS = {"GET": "view", "POST": "add", "PATCH": "change", "PUT": "change", "DELETE": "delete"}


@dataclass(frozen=True)
class Resource:
    """One collection of the API: its path under /api/v3 and the Django model behind it,
    which names the permission a 403 is about (authentik's `<app>.<verb>_<model>`)."""

    path: str
    model: str

    def permission(self, method: str) -> str:
        app, model = self.model.split(".")
        return f"{app}.{VERBS[method]}_{model}"


class Missing(TransientError):
    """A 404. Where a look-up doesn't expect one, the object vanished meanwhile: try again."""

    def __init__(self, what: str):
        super().__init__(f"Authentik lost the object while trying to {what}; trying again.")


class AuthentikHttp:
    """Sends one call at a time and turns every failure into TransientError or StepFailed."""

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
        self._timeout = (connect_timeout, read_timeout)
        self._session = requests.Session()
        # A plain adapter: no urllib3 retries, the engine retries with backoff and records each.
        self._session.mount("http://", requests.adapters.HTTPAdapter(max_retries=0))
        self._session.mount("https://", requests.adapters.HTTPAdapter(max_retries=0))
        self._session.verify = verify_tls
        self._session.headers.update(
            {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        )

    # --- the verbs -------------------------------------------------------------------------------

    def get(self, what: str, res: Resource, key: str = "", **query: Any) -> dict:
        return self.call(what, "GET", res, key, params=query)

    def find(self, what: str, res: Resource, **query: Any) -> list[dict]:
        """Every result of a filtered list, all pages. Callers still match exactly: a server
        that doesn't know a filter ignores it and answers the whole list."""
        found: list[dict] = []
        page = 1
        for _ in range(MAX_PAGES):
            # The first page without `page=`: the request a person reading the log expects.
            params = query if page == 1 else {**query, "page": page}
            answer = self.call(what, "GET", res, params=params)
            results = answer.get("results")
            if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
                raise unusable(what, "results")
            found += results
            pagination = answer.get("pagination")
            following = pagination.get("next") if isinstance(pagination, dict) else None
            # `next` is a page number, 0 when there is none; the schema calls it a number.
            if not isinstance(following, int | float) or following <= page:
                return found
            page = int(following)
        raise StepFailed(
            f"Authentik's answer to {what} runs over {MAX_PAGES} pages; the portal stops "
            "there rather than guess. Is a filter ignored by this Authentik version?"
        )

    def create(self, what: str, res: Resource, body: dict, hide: Iterable[str] = ()) -> dict:
        return self.call(what, "POST", res, json=body, hide=hide)

    def update(
        self, what: str, res: Resource, key: str, body: dict, hide: Iterable[str] = ()
    ) -> dict:
        return self.call(what, "PATCH", res, key, json=body, hide=hide)

    def delete(self, what: str, res: Resource, key: str) -> bool:
        """True when deleted, False when it was gone already: exactly what a delete wants."""
        try:
            self.call(what, "DELETE", res, key)
        except Missing:
            return False
        return True

    # --- one call --------------------------------------------------------------------------------

    def call(
        self,
        what: str,
        method: str,
        res: Resource,
        key: str = "",
        *,
        params: dict | None = None,
        json: dict | None = None,
        hide: Iterable[str] = (),
    ) -> dict:
        def once() -> dict:
            return self._once(what, method, res, key, params, json, hide)

        # GET, PATCH, PUT and DELETE may be sent again; a POST only if it surely wasn't read.
        return retrying(once, idempotent=method in IDEMPOTENT)

    def _once(self, what, method, res, key, params, json, hide) -> dict:
        path = f"/api/v3{res.path}"
        if key:
            path += f"{quote(str(key), safe='')}/"
        hide = [self._token, *hide]
        try:
            response = self._session.request(
                method, self.url + path, params=params, json=json, timeout=self._timeout
            )
        except requests.exceptions.SSLError as exc:
            # A certificate problem is configuration, not bad luck: waiting won't fix it.
            raise StepFailed(
                f"Authentik's TLS connection failed while trying to {what}: "
                f"{_redact(str(exc), hide)[:300]} (see PORTAL_AUTHENTIK_VERIFY_TLS)."
            ) from None
        except requests.exceptions.RequestException as exc:
            # Connection refused, reset, timed out: the same call may well work in a minute.
            raise Unavailable(
                f"Authentik at {self.url} did not answer ({exc.__class__.__name__}) "
                f"while trying to {what}.",
                system=SYSTEM,
                unsent=_unsent(exc),
            ) from None
        if response.status_code == 404:
            raise Missing(what)
        if response.status_code >= 400:
            raise _refusal(what, method, res, response, hide)
        if response.status_code == 204 or not response.content:
            return {}
        try:
            data = response.json()
        except ValueError:
            raise StepFailed(
                f"Authentik's answer to {what} ({method} {path}) is not JSON: "
                f"{_redact(response.text, hide)[:200]!r}."
            ) from None
        if not isinstance(data, dict):
            raise unusable(what, "(the answer is not an object)")
        return data

    def __repr__(self) -> str:  # never the token
        return f"<AuthentikHttp {self.url}>"


def unusable(what: str, field: str) -> StepFailed:
    """An answer the portal can't use: say which call and which field, so a human can look."""
    return StepFailed(
        f"Authentik's answer to {what} has no usable {field!r}; this Authentik version "
        "answers differently from what the portal knows."
    )


def _refusal(
    what: str, method: str, res: Resource, response: requests.Response, hide: list[str]
) -> Exception:
    status = response.status_code
    detail = _detail(response)
    said = _redact(_explain(response), hide)
    if status == 429 or status >= 500:
        return unavailable(
            f"Authentik answered {status} while trying to {what}: {said}",
            system=SYSTEM,
            status=status,
            header=response.headers.get("Retry-After"),
        )
    if status == 401 or (status == 403 and detail in TOKEN_PROBLEMS):
        return StepFailed(
            f"Authentik rejected the API token ({status}) while trying to {what}: {said} "
            "Check PORTAL_AUTHENTIK_TOKEN."
        )
    if status == 403:
        return StepFailed(
            f"Authentik refused to {what} (403 Forbidden): {said} The token's user needs the "
            f"permission {res.permission(method)}."
        )
    return StepFailed(f"Authentik refused to {what} ({status}): {said}")


def _unsent(exc: requests.exceptions.RequestException) -> bool:
    """True when the request never reached Authentik (no connection could be made)."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return isinstance(exc, requests.exceptions.ConnectionError) and isinstance(
        reason, urllib3.exceptions.NewConnectionError
    )


def _detail(response: requests.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    return data.get("detail") if isinstance(data, dict) else None


def _explain(response: requests.Response) -> str:
    """Authentik's error body in words: `field: message` pairs or its `detail`."""
    if not response.content:
        return "no details given."
    try:
        data = response.json()
    except ValueError:
        return response.text[:300]
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
