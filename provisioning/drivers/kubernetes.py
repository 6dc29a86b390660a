"""The Kubernetes API through the official client: server-side apply, reads, deletes, Secrets."""

import base64
import hashlib
import json
import os
import threading
from datetime import UTC, datetime

import urllib3
from django.conf import settings
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.utils import parse_quantity

from provisioning.errors import StepFailed, TransientError
from provisioning.secrets import SECRET_NAME
from provisioning.spec import TenantSpec

FIELD_MANAGER = "tenant-portal"  # every server-side apply of the portal
SECRETS_MANAGER = "tenant-portal-secrets"  # the credential keys of the tenant's Secret
RESTART_MANAGER = "tenant-portal-restart"  # the restart annotation of the workload
HASH_ANNOTATION = "portal.wp.ionos/applied-hash"

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


def _message(exc: ApiException) -> str:
    try:
        return json.loads(exc.body).get("message") or exc.reason
    except (TypeError, ValueError, AttributeError):
        return exc.reason or ""


def translate(exc: Exception, what: str, redact: tuple[str, ...] = ()) -> Exception:
    """The provisioning error for a failed call: TransientError worth retrying, else StepFailed."""
    if isinstance(exc, ApiException):
        message = _message(exc)
        for value in redact:
            if value:
                message = message.replace(value, "<redacted>")
        text = f"the Kubernetes API answered {exc.status} ({exc.reason}) for {what}: {message}"
        if exc.status in (0, 429) or exc.status >= 500:
            return TransientError(text)
        target = _target()
        if exc.status == 401 and target and target[0] == "ionos":
            # The cluster's token was rotated: fetch the kubeconfig again on the retry.
            from provisioning.drivers import ionos

            ionos.kubeconfig_forget(target[1])
            return TransientError(text)
        return StepFailed(text)
    return TransientError(f"the Kubernetes API didn't answer for {what} ({exc.__class__.__name__})")


def _what(api_version: str, kind: str, name: str, namespace: str = "") -> str:
    return f"{kind} {namespace}/{name}" if namespace else f"{kind} {name}"


# --- comparing desired and live ---------------------------------------------------------------


def config_hash(manifest: dict) -> str:
    return hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]


def _same(want, have) -> bool:
    if want == have:
        return True
    if isinstance(want, str) and isinstance(have, str | int):
        try:  # the API server writes quantities canonically: 1000m comes back as 1
            return parse_quantity(want) == parse_quantity(have)
        except ValueError:
            return False
    return False


def _show(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _compare(want, have, path: str, out: list[str], secret: bool) -> None:
    if isinstance(want, dict):
        if not isinstance(have, dict):
            out.append(f"{path or 'object'} is missing")
            return
        for key, sub in want.items():
            if key not in have:
                out.append(f"{path}.{key} is not set".lstrip("."))
            else:
                _compare(sub, have[key], f"{path}.{key}".lstrip("."), out, secret)
    elif isinstance(want, list):
        if not isinstance(have, list) or len(have) != len(want):
            count = len(have) if isinstance(have, list) else 0
            out.append(f"{path} has {count} entries, want {len(want)}")
            return
        for i, (w, h) in enumerate(zip(want, have, strict=True)):
            _compare(w, h, f"{path}[{i}]", out, secret)
    elif not _same(want, have):
        if secret:
            out.append(f"{path} differs")
        else:
            out.append(f"{path} is {_show(have)}, want {_show(want)}")


def differences(desired: dict, live: dict | None) -> list[str]:
    """What differs in the fields the portal sets; other fields (defaults, status) are ignored."""
    what = f"{desired['kind']} {desired['metadata']['name']}"
    if live is None:
        return [f"{what} is missing"]
    out: list[str] = []
    body = {k: v for k, v in desired.items() if k not in ("apiVersion", "kind")}
    _compare(body, live, "", out, secret=desired["kind"] == "Secret")
    applied = (live.get("metadata", {}).get("annotations") or {}).get(HASH_ANNOTATION)
    if not out and applied != config_hash(desired):
        # Something the portal set before and no longer sets: only an apply removes it.
        out.append("its configuration changed since the last apply")
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

    def apply(self, manifest: dict, force: bool = False) -> dict:
        """Server-side apply as the portal's field manager, creating the object if missing."""
        meta = manifest["metadata"]
        body = {
            **manifest,
            "metadata": {
                **meta,
                "annotations": {
                    **(meta.get("annotations") or {}),
                    HASH_ANNOTATION: config_hash(manifest),
                },
            },
        }
        query = [("fieldManager", FIELD_MANAGER)]
        if force:
            query.append(("force", "true"))
        path = self.path(manifest["apiVersion"], manifest["kind"], meta.get("namespace", ""))
        what = _what(manifest["apiVersion"], manifest["kind"], meta["name"], meta.get("namespace"))
        return self.request(
            "PATCH",
            f"{path}/{meta['name']}",
            f"applying {what}",
            query=query,
            body=body,
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
            query=[("fieldManager", manager)],
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
            live = self.driver.read("v1", "Secret", SECRET_NAME, self.spec.namespace)
            data = (live or {}).get("data") or {}
            self._data = {k: base64.b64decode(v).decode() for k, v in data.items()}
        return self._data

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
