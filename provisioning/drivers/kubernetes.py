"""The Kubernetes API through the official client: server-side apply, reads, deletes, Secrets."""

import base64
import hashlib
import json
import os
import re
import threading
from datetime import UTC, datetime

import urllib3
from django.conf import settings
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from provisioning.drivers.retry import IDEMPOTENT, retrying, unavailable
from provisioning.errors import StepFailed, TransientError, Unavailable
from provisioning.secrets import SECRET_NAME
from provisioning.spec import TenantSpec

SYSTEM = "Kubernetes"
FIELD_MANAGER = "tenant-portal"  # every server-side apply of the portal
SECRETS_MANAGER = "tenant-portal-secrets"  # the credential keys of the tenant's Secret
RESTART_MANAGER = "tenant-portal-restart"  # the restart annotation of the workload
# Every write that takes it: an unknown or duplicate field is an error, not a warning.
_STRICT_QUERY = (("fieldValidation", "Strict"),)

_PLURALS = {
    "Namespace": "namespaces",
    "ResourceQuota": "resourcequotas",
    "LimitRange": "limitranges",
    "ServiceAccount": "serviceaccounts",
    "Secret": "secrets",
    "Service": "services",
    "PersistentVolumeClaim": "persistentvolumeclaims",
    "Deployment": "deployments",
    "Job": "jobs",
    "Ingress": "ingresses",
    "NetworkPolicy": "networkpolicies",
    "RoleBinding": "rolebindings",
    "PodMetrics": "pods",  # metrics.k8s.io, served by metrics-server (read-only)
}
_clients: dict[tuple, client.ApiClient] = {}
_clients_lock = threading.Lock()


# --- the client, one per process and configuration ------------------------------------------------


def _target() -> tuple | None:
    s = settings
    if s.PORTAL_KUBECONFIG:
        return ("kubeconfig", s.PORTAL_KUBECONFIG, s.PORTAL_KUBE_CONTEXT)
    if s.PORTAL_KUBE_IN_CLUSTER:
        return ("in-cluster",)
    if s.PORTAL_IONOS_TOKEN and s.PORTAL_IONOS_CLUSTER_ID:
        return ("ionos", s.PORTAL_IONOS_CLUSTER_ID)
    return None


def _build(target: tuple) -> client.ApiClient:
    configuration = client.Configuration()
    try:
        if target[0] == "kubeconfig":
            config.load_kube_config(
                config_file=target[1],
                context=target[2] or None,
                client_configuration=configuration,
                persist_config=False,
            )
        elif target[0] == "in-cluster":
            config.load_incluster_config(client_configuration=configuration)
        else:
            # The IONOS driver hands out the cluster's kubeconfig (a dict) by cluster id.
            from provisioning.drivers import ionos

            config.load_kube_config_from_dict(
                ionos.kubeconfig(target[1]), client_configuration=configuration
            )
    except (ConfigException, OSError, ImportError, AttributeError) as exc:
        raise StepFailed(f"The Kubernetes cluster access ({target[0]}) is unusable: {exc}") from exc
    # The engine retries with backoff; the client must not retry (and wait) on its own.
    configuration.retries = False
    # The environment's proxy, resolved once: with a token the kubeconfig loader's refresh hook
    # sets the host again before every request, and the client would then scan the
    # environment for proxies every time (a set proxy stops that, kubernetes Configuration).
    configuration.proxy = configuration.proxy
    return client.ApiClient(configuration)


def api_client() -> client.ApiClient | None:
    """The process's client for the configured cluster, or None when none is (plan mode)."""
    target = _target()
    if target is None:
        return None
    key = (os.getpid(), *target)  # a forked worker builds its own connection pool
    if target[0] == "ionos":
        from provisioning.drivers import ionos

        # The IONOS API may hand out a new kubeconfig (a rotated token): a new one, a new
        # client. Cheap: the IONOS driver keeps the kubeconfig for a while.
        text = ionos.kubeconfig_for_cluster(target[1])
        key = (*key, hashlib.sha256(text.encode()).hexdigest())
    with _clients_lock:
        if key not in _clients:
            _clients[key] = _build(target)
        return _clients[key]


def make_driver() -> "KubeApi | None":
    api = api_client()
    return KubeApi(api) if api is not None else None


# --- errors -----------------------------------------------------------------------------------


def _status(exc: ApiException) -> dict:
    try:
        body = json.loads(exc.body)
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _message(exc: ApiException) -> str:
    return _status(exc).get("message") or exc.reason or ""


# What a real kube-apiserver answers when the manifest doesn't fit its schema (recorded against
# v1.32, tests/recordings/kubernetes-1.32/edge-cases.jsonl): server-side apply says 500 "field not
# declared in schema" whatever fieldValidation is; a create or update with fieldValidation=Strict
# says 400 "strict decoding error"; a value the schema refuses is 422 Invalid. None of them goes
# away by retrying.
_UNDECLARED = re.compile(r"(\.[^\s:]+): field not declared in schema")
_STRICT = re.compile(r'strict decoding error: unknown field "([^"]+)"')


def schema_field(exc: ApiException) -> str | None:
    """The field an answer rejects for not fitting the API's schema, or None for other errors."""
    message = _message(exc)
    if exc.status == 500 and (found := _UNDECLARED.search(message)):
        return found.group(1)
    if exc.status == 400 and (found := _STRICT.search(message)):
        return found.group(1)
    if exc.status == 422:
        causes = (_status(exc).get("details") or {}).get("causes") or []
        fields = [c["field"] for c in causes if c.get("field")]
        return ", ".join(dict.fromkeys(fields)) or "(see the message)"
    return None


def translate(exc: Exception, what: str, redact: tuple[str, ...] = ()) -> Exception:
    """The provisioning error for a failed call: TransientError worth retrying, else StepFailed."""
    if isinstance(exc, ApiException):
        message = _message(exc)
        for value in redact:
            if value:
                message = message.replace(value, "<redacted>")
        field = schema_field(exc)
        if field is not None:
            return StepFailed(
                f"{what.split(' ', 1)[-1]} doesn't fit the cluster's schema at {field}; "
                f"the Kubernetes API answered {exc.status}: {message}"
            )
        text = f"the Kubernetes API answered {exc.status} ({exc.reason}) for {what}: {message}"
        if exc.status in (0, 429) or exc.status >= 500:
            header = (exc.headers or {}).get("Retry-After")
            return unavailable(text, system=SYSTEM, status=exc.status, header=header)
        target = _target()
        if exc.status == 401 and target and target[0] == "ionos":
            # The cluster's token was rotated: fetch the kubeconfig again on the retry.
            from provisioning.drivers import ionos

            ionos.kubeconfig_forget(target[1])
            return TransientError(text)
        return StepFailed(text)
    return Unavailable(
        f"the Kubernetes API didn't answer for {what} ({exc.__class__.__name__})",
        system=SYSTEM,
        unsent=isinstance(exc, urllib3.exceptions.ConnectTimeoutError),  # incl. refused
    )


def _what(api_version: str, kind: str, name: str, namespace: str = "") -> str:
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


# --- comparing desired and live ---------------------------------------------------------------
#
# "Changed or not" is not guessed from the manifest: the API server defaults, normalizes
# (quantities, dropped empty values) and prunes what the portal no longer sets. So the portal asks
# it: a server-side dry-run apply answers the object as it would be stored, and that is compared
# with the stored one, as Flux's kustomize-controller does (fluxcd/pkg/ssa). Only what an apply
# can change is compared: labels, annotations and the body; status and server bookkeeping aren't.


def _show(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _compare(want, have, path: str, out: list[str], secret: bool) -> None:
    if isinstance(want, dict) and isinstance(have, dict):
        for key in {**want, **have}:
            sub = f"{path}.{key}".lstrip(".")
            if key not in have:
                out.append(f"{sub} is not set")
            elif key not in want:
                out.append(f"{sub} is set, want it unset")
            else:
                _compare(want[key], have[key], sub, out, secret)
    elif isinstance(want, list) and isinstance(have, list) and len(want) == len(have):
        for i, (w, h) in enumerate(zip(want, have, strict=True)):
            _compare(w, h, f"{path}[{i}]", out, secret)
    elif isinstance(want, list) and isinstance(have, list):
        out.append(f"{path} has {len(have)} entries, want {len(want)}")
    elif want != have:
        out.append(f"{path} differs" if secret else f"{path} is {_show(have)}, want {_show(want)}")


def _comparable(obj: dict) -> dict:
    meta = obj.get("metadata") or {}
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata", "status")}
    labels = {"labels": meta.get("labels") or {}, "annotations": meta.get("annotations") or {}}
    return {"metadata": labels, **body}


def differences(would_be: dict, live: dict | None) -> list[str]:
    """What an apply would change: the dry-run answer (`would_be`) against the stored object."""
    what = f"{would_be['kind']} {would_be['metadata']['name']}"
    if live is None:
        return [f"{what} is missing"]
    out: list[str] = []
    secret = would_be["kind"] == "Secret"
    _compare(_comparable(would_be), _comparable(live), "", out, secret)
    return [f"{what}: {d}" for d in out]


# --- the API ------------------------------------------------------------------------------------


class KubeApi:
    """Generic calls on any of the tenant's kinds, returning plain dicts."""

    def __init__(self, api: client.ApiClient):
        self.api = api
        timeout = float(settings.PORTAL_KUBE_TIMEOUT)
        self.timeout = (min(5.0, timeout), timeout)

    @staticmethod
    def path(api_version: str, kind: str, namespace: str = "", name: str = "") -> str:
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        scope = f"/namespaces/{namespace}" if namespace and kind != "Namespace" else ""
        return f"{base}{scope}/{_PLURALS[kind]}" + (f"/{name}" if name else "")

    def request(
        self,
        method: str,
        path: str,
        what: str,
        *,
        query: list | None = None,
        body=None,
        content_type: str | None = None,
        missing_ok: bool = False,
        redact: tuple[str, ...] = (),
    ) -> dict | None:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type

        def once() -> dict | None:
            return self._once(method, path, what, query, body, headers, missing_ok, redact)

        # Reads, server-side applies, merge patches and deletes can be sent again safely.
        return retrying(once, idempotent=method in IDEMPOTENT)

    def _once(self, method, path, what, query, body, headers, missing_ok, redact) -> dict | None:
        try:
            serialized = self.api.param_serialize(
                method,
                path,
                query_params=query or [],
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
            response = self.api.call_api(*serialized, _request_timeout=self.timeout)
            response.read()
            if not 200 <= response.status <= 299:
                text = response.data.decode("utf-8", "replace")
                raise ApiException.from_response(http_resp=response, body=text, data=None)
        except ApiException as exc:
            if missing_ok and exc.status == 404:
                return None
            raise translate(exc, what, redact) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise translate(exc, what) from exc
        return json.loads(response.data) if response.data else {}

    def get(self, manifest: dict) -> dict | None:
        api_version, kind, meta = manifest["apiVersion"], manifest["kind"], manifest["metadata"]
        return self.read(api_version, kind, meta["name"], meta.get("namespace", ""))

    def read(self, api_version: str, kind: str, name: str, namespace: str = "") -> dict | None:
        path = self.path(api_version, kind, namespace, name)
        what = _what(api_version, kind, name, namespace)
        return self.request("GET", path, f"reading {what}", missing_ok=True)

    def list(self, api_version: str, kind: str, namespace: str, selector: dict) -> list[dict]:
        label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        result = self.request(
            "GET",
            self.path(api_version, kind, namespace),
            f"listing {kind}s in {namespace}",
            query=[("labelSelector", label_selector)],
        )
        return result["items"]

    def list_all(
        self, api_version: str, kind: str, selector: dict, page: int = 500, missing_ok=False
    ) -> "list[dict] | None":
        """The objects of a kind in every namespace by label selector, a page at a time (limit
        and continue, as the API server pages a large list). With missing_ok, None when the
        cluster doesn't serve the kind at all (404: an aggregated API that isn't installed)."""
        label_selector = ",".join(f"{k}={v}" for k, v in sorted(selector.items()))
        items, token = [], ""
        while True:
            query = [("labelSelector", label_selector), ("limit", str(page))]
            if token:
                query.append(("continue", token))
            result = self.request(
                "GET",
                self.path(api_version, kind),
                f"listing {kind}s in every namespace",
                query=query,
                missing_ok=missing_ok and not token,
            )
            if result is None:
                return None
            items += result["items"]
            token = (result.get("metadata") or {}).get("continue") or ""
            if not token:
                return items

    def apply(self, manifest: dict, dry_run: bool = False) -> dict:
        """Server-side apply as the portal's field manager, creating the object if missing.

        With force: the fields the portal sets are the portal's; a hand edit of one (kubectl
        scale, edit) is taken back rather than failing the tenant, and the check before it has
        reported it as drift. With dry_run: nothing is stored, the answer is what would be.
        """
        meta = manifest["metadata"]
        query = [("fieldManager", FIELD_MANAGER), ("force", "true"), *_STRICT_QUERY]
        if dry_run:
            query.append(("dryRun", "All"))
        path = self.path(manifest["apiVersion"], manifest["kind"], meta.get("namespace", ""))
        what = _what(manifest["apiVersion"], manifest["kind"], meta["name"], meta.get("namespace"))
        return self.request(
            "PATCH",
            f"{path}/{meta['name']}",
            f"{'checking' if dry_run else 'applying'} {what}",
            query=query,
            body=manifest,
            content_type="application/apply-patch+yaml",
        )

    def merge_patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str,
        patch: dict,
        manager: str,
        redact: tuple[str, ...] = (),
    ) -> dict | None:
        """A JSON merge patch: adds or changes the given fields, leaves all others alone.

        None when the object doesn't exist.
        """
        return self.request(
            "PATCH",
            self.path(api_version, kind, namespace, name),
            f"updating {_what(api_version, kind, name, namespace)}",
            query=[("fieldManager", manager), *_STRICT_QUERY],
            body=patch,
            content_type="application/merge-patch+json",
            missing_ok=True,
            redact=redact,
        )

    def delete(
        self, api_version: str, kind: str, name: str, namespace: str = "", propagation: str = ""
    ) -> bool:
        """Delete the object; False when it was already gone."""
        query = [("propagationPolicy", propagation)] if propagation else []
        result = self.request(
            "DELETE",
            self.path(api_version, kind, namespace, name),
            f"deleting {_what(api_version, kind, name, namespace)}",
            query=query,
            missing_ok=True,
        )
        return result is not None


def _require_driver() -> KubeApi:
    driver = make_driver()
    if driver is None:
        raise StepFailed(
            "Kubernetes is not configured (PORTAL_KUBECONFIG or PORTAL_KUBE_IN_CLUSTER)"
        )
    return driver


# --- the tenant's credential Secret ------------------------------------------------------------


def _decoded(secret: dict | None) -> dict[str, str]:
    data = (secret or {}).get("data") or {}
    return {k: base64.b64decode(v).decode() for k, v in data.items()}


class KubernetesSecrets:
    """The tenant's Secret as a SecretStore: each credential is one of its data keys.

    Keys are written with a JSON merge patch under their own field manager, so the namespace
    step's server-side apply of the Secret (labels, type) never owns — and never removes — them.
    """

    planned = False

    def __init__(self, spec: TenantSpec, driver: KubeApi | None = None):
        self.spec = spec
        self._driver = driver
        self._data: dict[str, str] | None = None

    @property
    def driver(self) -> KubeApi:
        if self._driver is None:
            self._driver = _require_driver()
        return self._driver

    def _load(self) -> dict[str, str]:
        if self._data is None:
            self._data = _decoded(
                self.driver.read("v1", "Secret", SECRET_NAME, self.spec.namespace)
            )
        return self._data

    def seed(self, live: dict) -> None:
        """The Secret as a step just had it from the API (read or applied), taken instead of
        a read of the store's own; what the store already read or wrote stays."""
        if self._data is None:
            self._data = _decoded(live)

    def get(self, key: str) -> str | None:
        return self._load().get(key)

    def put(self, values: dict[str, str]) -> None:
        result = self.driver.merge_patch(
            "v1",
            "Secret",
            SECRET_NAME,
            self.spec.namespace,
            {"stringData": values},
            SECRETS_MANAGER,
            redact=tuple(values.values()),
        )
        if result is None:
            raise StepFailed(
                f"Secret {self.spec.namespace}/{SECRET_NAME} is missing; the namespace step "
                "creates it, run the tenant's provisioning again."
            )
        if self._data is not None:
            self._data.update(values)

    def discard(self, keys) -> None:
        keys = list(keys)
        # null in a JSON merge patch removes the key; a Secret already gone has none to remove.
        self.driver.merge_patch(
            "v1",
            "Secret",
            SECRET_NAME,
            self.spec.namespace,
            {"data": dict.fromkeys(keys)},
            SECRETS_MANAGER,
        )
        if self._data is not None:
            for key in keys:
                self._data.pop(key, None)


# --- the workload -------------------------------------------------------------------------------


def restart_workload(spec: TenantSpec) -> bool:
    """Rolling restart of the tenant's WordPress (pods pick up new credentials).

    Returns False when there is nothing to restart (plan mode, or no Deployment yet).
    """
    driver = make_driver()
    if driver is None:
        return False
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    patch = {
        "spec": {
            "template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": now}}}
        }
    }
    result = driver.merge_patch(
        "apps/v1", "Deployment", "wordpress", spec.namespace, patch, RESTART_MANAGER
    )
    return result is not None
