"""The IONOS Cloud API v6 through the official ionoscloud SDK: users, S3 keys, kubeconfigs."""

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import ionoscloud
import urllib3
import yaml
from django.conf import settings
from ionoscloud.exceptions import ApiException, OpenApiException

from provisioning.drivers.retry import retrying, unavailable
from provisioning.errors import StepFailed, Unavailable
from provisioning.secrets import random_password

SYSTEM = "the IONOS API"
PAGE = 100  # the most users one GET /um/users returns
# IONOS users take no labels or tags: the names the API keeps are the portal's marker, the first
# name saying it is the portal's, the last name whose tenant (its slug).
MARKER_FIRSTNAME = "tenant-portal"


@dataclass(frozen=True)
class NodePool:
    name: str
    nodes: int
    cores: int  # per node
    ram_mib: int  # per node
    autoscaling: tuple[int, int] | None  # (min, max) nodes, None when fixed


@dataclass(frozen=True)
class IonosUser:
    id: str
    email: str
    s3_canonical_user_id: str | None
    firstname: str = ""
    lastname: str = ""

    @property
    def tenant(self) -> str | None:
        """The tenant whose marker the user carries, or None when it carries none."""
        return self.lastname if self.firstname == MARKER_FIRSTNAME and self.lastname else None


def api_words(exc: ApiException) -> str:
    """IONOS's own words from its error body ({"httpStatus", "messages": [{"message"}]})."""
    try:
        messages = json.loads(exc.body or "{}").get("messages") or []
        text = "; ".join(str(m.get("message", "")) for m in messages if isinstance(m, dict))
    except (TypeError, ValueError, AttributeError):
        text = ""
    return text or str(exc.reason or "")


def status_error(status: int, text: str, retry_after: str | None = None) -> Exception:
    """The engine's kind of error for an answer of any IONOS API (0: no answer at all), with
    the answer's Retry-After header if it had one."""
    if status == 0 or status == 429 or status >= 500:
        return unavailable(text, system=SYSTEM, status=status, header=retry_after)
    if status == 401:
        return StepFailed(f"{text} (check PORTAL_IONOS_TOKEN)")
    if status == 403:
        return StepFailed(f"{text} (the token's user lacks the right to do this)")
    return StepFailed(text)


@contextmanager
def translated(what: str, redact: tuple[str, ...] = ()) -> Iterator[None]:
    """The SDK's errors as the engine's two kinds; never a secret or the token in the words."""

    def clean(text: str) -> str:
        for value in (*redact, settings.PORTAL_IONOS_TOKEN):
            if value:
                text = text.replace(value, "<redacted>")
        return text

    try:
        yield
    except ApiException as exc:
        status = exc.status or 0
        header = (exc.headers or {}).get("Retry-After")
        raise status_error(
            status, clean(f"the IONOS API answered {status} for {what}: {api_words(exc)}"), header
        ) from None
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        # Refused connections, resets and timeouts: the same call may work in a moment.
        raise Unavailable(
            f"the IONOS API could not be reached for {what} ({exc.__class__.__name__})",
            system=SYSTEM,
            unsent=isinstance(exc, urllib3.exceptions.ConnectTimeoutError),  # incl. refused
        ) from None
    except OpenApiException as exc:
        raise StepFailed(clean(f"the IONOS SDK refused to {what}: {exc}")) from None


def _deleted(delete):
    """The delete as a call that says whether it removed something: False when IONOS answers
    404, the thing gone already (a retried delete whose first try went through)."""

    def call() -> bool:
        try:
            delete()
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    return call


def api_client(url: str, token: str) -> ionoscloud.ApiClient:
    configuration = ionoscloud.Configuration(host=url, token=token)
    # The engine retries with backoff; the SDK must not sleep and retry on its own.
    configuration.max_retries = 1
    configuration.retries = False
    return ionoscloud.ApiClient(configuration)


class IonosApi:
    """The calls the portal makes on the IONOS Cloud API, with one client per instance."""

    def __init__(self, *, url: str, token: str, timeout: float = 15.0):
        self.client = api_client(url, token)
        self.timeout = (min(5.0, timeout), timeout)
        self.users = ionoscloud.UserManagementApi(self.client)
        self.s3keys = ionoscloud.UserS3KeysApi(self.client)
        self.k8s = ionoscloud.KubernetesApi(self.client)

    @classmethod
    def from_settings(cls) -> "IonosApi | None":
        if not settings.PORTAL_IONOS_TOKEN:
            return None
        return cls(
            url=settings.PORTAL_IONOS_API_URL,
            token=settings.PORTAL_IONOS_TOKEN,
            timeout=float(settings.PORTAL_IONOS_TIMEOUT),
        )

    def _call(self, what: str, fn, *, idempotent: bool = True, redact: tuple[str, ...] = ()):
        """One call of the SDK, its errors translated, sent again through a passing outage."""

        def once():
            with translated(what, redact):
                return fn()

        return retrying(once, idempotent=idempotent)

    # --- the contract ---------------------------------------------------------------------------

    def contract_number(self) -> str:
        """The number of the one contract the token acts in (part of its users' S3 ids)."""
        answer = self._call(
            "read the contract",
            lambda: ionoscloud.ContractResourcesApi(self.client).contracts_get(
                _request_timeout=self.timeout
            ),
        )
        numbers = [
            c.properties.contract_number
            for c in answer.items or []
            if c.properties and c.properties.contract_number
        ]
        if len(numbers) != 1:
            raise StepFailed(
                f"the IONOS API names {len(numbers)} contracts for PORTAL_IONOS_TOKEN; the "
                "portal needs the token of a user of exactly one contract"
            )
        return str(numbers[0])

    # --- users ----------------------------------------------------------------------------------

    @staticmethod
    def _user(user) -> IonosUser:
        props = user.properties
        return IonosUser(
            id=user.id,
            email=(props.email or "").lower(),
            s3_canonical_user_id=props.s3_canonical_user_id or None,
            firstname=props.firstname or "",
            lastname=props.lastname or "",
        )

    def user_by_email(self, email: str) -> IonosUser | None:
        """The contract's user with this e-mail (IONOS compares them case-insensitively)."""
        offset = 0
        while True:
            page = self._call(
                f"list users (looking for {email})",
                lambda offset=offset: self.users.um_users_get(
                    depth=1, offset=offset, limit=PAGE, _request_timeout=self.timeout
                ),
            )
            items = page.items or []
            for user in items:
                if user.properties and (user.properties.email or "").lower() == email.lower():
                    return self._user(user)
            if len(items) < PAGE:
                return None
            offset += PAGE

    def user_get(self, user_id: str) -> IonosUser | None:
        def read() -> IonosUser | None:
            try:
                return self._user(
                    self.users.um_users_find_by_id(user_id, depth=1, _request_timeout=self.timeout)
                )
            except ApiException as exc:
                if exc.status == 404:
                    return None
                raise

        return self._call(f"read user {user_id}", read)

    def user_create(self, email: str, firstname: str, lastname: str) -> IonosUser:
        """A plain user (no administrator, no forced 2FA) with a password nobody will know."""
        password = random_password(40)  # never stored or shown: only its S3 keys are used
        body = ionoscloud.UserPost(
            properties=ionoscloud.UserPropertiesPost(
                firstname=firstname,
                lastname=lastname,
                email=email,
                password=password,
                administrator=False,
                force_sec_auth=False,
                active=True,
            )
        )
        # A POST: sent again only when IONOS surely didn't take it (two users otherwise).
        created = self._call(
            f"create user {email}",
            lambda: self.users.um_users_post(body, _request_timeout=self.timeout),
            idempotent=False,
            redact=(password,),
        )
        return self._user(created)

    def user_rename(self, user_id: str, firstname: str, lastname: str) -> IonosUser:
        """New names for the user; everything else as it is (IONOS's PUT takes them all)."""

        def rename():
            found = self.users.um_users_find_by_id(user_id, depth=1, _request_timeout=self.timeout)
            props = found.properties
            body = ionoscloud.UserPut(
                properties=ionoscloud.UserPropertiesPut(
                    firstname=firstname,
                    lastname=lastname,
                    email=props.email,
                    administrator=bool(props.administrator),
                    force_sec_auth=bool(props.force_sec_auth),
                    active=props.active if props.active is not None else True,
                )
            )
            return self.users.um_users_put(user_id, body, _request_timeout=self.timeout)

        return self._user(self._call(f"rename user {user_id}", rename))

    def user_delete(self, user_id: str) -> bool:
        """Delete the user (its S3 keys go with it); False if it was gone already."""

        return self._call(
            f"delete user {user_id}",
            _deleted(lambda: self.users.um_users_delete(user_id, _request_timeout=self.timeout)),
        )

    # --- S3 keys --------------------------------------------------------------------------------

    def s3_key_ids(self, user_id: str) -> list[str]:
        keys = self._call(
            f"list the S3 keys of user {user_id}",
            lambda: self.s3keys.um_users_s3keys_get(
                user_id, depth=0, _request_timeout=self.timeout
            ),
        )
        return [key.id for key in keys.items or []]

    def s3_key_create(self, user_id: str) -> tuple[str, str]:
        """A new key: (access key id, secret). IONOS shows the secret in this answer only."""
        key = self._call(
            f"create an S3 key for user {user_id}",
            lambda: self.s3keys.um_users_s3keys_post(user_id, _request_timeout=self.timeout),
            idempotent=False,
        )
        secret = key.properties.secret_key if key.properties else None
        if not key.id or not secret:
            raise StepFailed(f"the IONOS API made S3 key {key.id} without handing out its secret")
        return key.id, secret

    def s3_key_delete(self, user_id: str, key_id: str) -> bool:
        return self._call(
            f"delete S3 key {key_id} of user {user_id}",
            _deleted(
                lambda: self.s3keys.um_users_s3keys_delete(
                    user_id, key_id, _request_timeout=self.timeout
                )
            ),
        )

    # --- Managed Kubernetes ---------------------------------------------------------------------

    def node_pools(self, cluster_id: str) -> list[NodePool]:
        with translated(f"the node pools of Kubernetes cluster {cluster_id}"):
            listed = self.k8s.k8s_nodepools_get(cluster_id, depth=1, _request_timeout=self.timeout)
        pools = []
        for item in listed.items or []:
            p = item.properties
            scaling = p.auto_scaling
            bounds = (scaling.min_node_count, scaling.max_node_count) if scaling else None
            pools.append(NodePool(p.name, p.node_count, p.cores_count, p.ram_size, bounds))
        return pools

    def kubeconfig(self, cluster_id: str) -> str:
        def read() -> str:
            try:
                return self.k8s.k8s_kubeconfig_get(cluster_id, _request_timeout=self.timeout)
            except ApiException as exc:
                if exc.status == 404:
                    raise StepFailed(
                        f"the IONOS API knows no Kubernetes cluster {cluster_id}: "
                        "check PORTAL_IONOS_CLUSTER_ID"
                    ) from None
                raise

        text = self._call(f"the kubeconfig of Kubernetes cluster {cluster_id}", read)
        if not isinstance(text, str) or "clusters" not in text:
            raise StepFailed(f"the IONOS API gave no usable kubeconfig for cluster {cluster_id}")
        return text


# --- the cluster's kubeconfig, fetched once per process and kept for a while --------------------

_kubeconfigs: dict[tuple[str, str], tuple[float, str]] = {}  # -> (fetched at, YAML)
_kubeconfigs_lock = threading.Lock()


def kubeconfig_for_cluster(cluster_id: str) -> str:
    """The kubeconfig (YAML) of the Managed Kubernetes cluster, from the IONOS API.

    Kept in this process for PORTAL_IONOS_KUBECONFIG_CACHE_SECONDS, so building clients does
    not call IONOS each time. Raises StepFailed (no token, unknown cluster, refused) or
    TransientError (IONOS unreachable or busy).
    """
    api = IonosApi.from_settings()
    if api is None:
        raise StepFailed("a kubeconfig by cluster id needs PORTAL_IONOS_TOKEN")
    key = (settings.PORTAL_IONOS_API_URL, cluster_id)
    ttl = float(settings.PORTAL_IONOS_KUBECONFIG_CACHE_SECONDS)
    with _kubeconfigs_lock:  # one fetch at a time: a burst of workers asks IONOS once
        cached = _kubeconfigs.get(key)
        if cached and time.monotonic() - cached[0] < ttl:
            return cached[1]
        text = api.kubeconfig(cluster_id)
        _kubeconfigs[key] = (time.monotonic(), text)
        return text


def kubeconfig(cluster_id: str) -> dict:
    """The same kubeconfig as a dict, for kubernetes.config.load_kube_config_from_dict()."""
    try:
        loaded = yaml.safe_load(kubeconfig_for_cluster(cluster_id))
    except yaml.YAMLError as exc:
        raise StepFailed(f"the kubeconfig of cluster {cluster_id} is not YAML: {exc}") from None
    if not isinstance(loaded, dict):
        raise StepFailed(f"the kubeconfig of cluster {cluster_id} is not a mapping")
    return loaded


def kubeconfig_forget(cluster_id: str | None = None) -> None:
    """Drop the cached kubeconfig (all of them without an id), e.g. after the API said 401."""
    with _kubeconfigs_lock:
        for key in [k for k in _kubeconfigs if cluster_id in (None, k[1])]:
            del _kubeconfigs[key]


# --- a tenant's S3 identity on IONOS, as the storage step uses it ---------------------------------


# IONOS's two kinds of bucket: owned by the contract (IONOS recommends these) or by one user.
BUCKET_TYPES = ("contract", "user")


def principal_kind(bucket_type: str) -> str:
    """How IONOS's bucket policies name one of its users: on a contract-owned bucket
    "Principal": {"AWS": ["arn:aws:iam:::user/CONTRACT_USER_ID"]}, on a user-owned one
    {"CanonicalUser": ["CANONICAL_USER_ID"]} (IONOS's bucket policy examples, one pair per
    case: https://docs.ionos.com/cloud/storage-and-backup/ionos-object-storage/settings/
    bucket-policy/examples). Which ID serves which bucket type: "Share your Contract User ID
    ... to get access to the contract-owned buckets", the Canonical User ID for user-owned ones
    (https://docs.ionos.com/cloud/storage-and-backup/ionos-object-storage/concepts/
    key-management)."""
    if bucket_type not in BUCKET_TYPES:
        raise StepFailed(f"PORTAL_IONOS_BUCKET_TYPE is {bucket_type!r}; it takes contract or user.")
    return "AWS" if bucket_type == "contract" else "CanonicalUser"


def contract_user_arn(contract_number: str, user_id: str) -> str:
    """A Contract User ID is the contract number and the user's UUID ("contract number|User
    UUID" in IONOS's older Retrieve User IDs page, https://docs.ionos.com/cloud/~/revisions/
    1AlFSZBNMIBgs7fiOwFD/managed-services/s3-object-storage/how-tos/retrieve-user-ids); in a
    policy they are joined by a colon, as in IONOS's own Terraform provider's example for
    ionoscloud_s3_bucket_policy ("arn:aws:iam:::user/31000000:9acd8251-2857-410e-b1fd-
    ca86462bdcec", github.com/ionos-cloud/terraform-provider-ionoscloud
    docs/resources/s3_bucket_policy.md; the same in the Pulumi registry's S3BucketPolicy)."""
    return f"arn:aws:iam:::user/{contract_number}:{user_id}"


class IonosTenantUser:
    """One IONOS user per tenant, its S3 keys, and its S3 identity as the principal of the
    tenant's bucket-policy statements (PORTAL_S3_CREDENTIALS=ionos), in the form the bucket's
    type takes (principal_kind)."""

    marker = f"first name {MARKER_FIRSTNAME}, last name the tenant's slug"

    def __init__(self, api: IonosApi, email: str, slug: str, bucket_type: str = "contract"):
        self.api = api
        self.email = email.lower()
        self.slug = slug
        self.kind = principal_kind(bucket_type)
        self.label = f"IONOS user {self.email}"
        self.user: IonosUser | None = None
        self._contract: str | None = None

    @property
    def principal(self) -> str | None:
        if self.user is None or not self.user.s3_canonical_user_id:
            return None  # no S3 identity yet (IONOS sets it up after the user)
        if self.kind == "CanonicalUser":
            return self.user.s3_canonical_user_id
        if self._contract is None:
            self._contract = self.api.contract_number()
        return contract_user_arn(self._contract, self.user.id)

    def find(self) -> bool:
        self.user = self.api.user_by_email(self.email)
        if self.user and not self.user.s3_canonical_user_id:
            # A list may lag behind; the user itself says whether its S3 identity exists yet.
            self.user = self.api.user_get(self.user.id) or self.user
        return self.user is not None

    def tenant(self) -> str | None:
        return self.user.tenant if self.user else None

    def mark(self) -> None:
        self.user = self.api.user_rename(self.user.id, MARKER_FIRSTNAME, self.slug)

    def create(self) -> None:
        self.user = self.api.user_create(self.email, MARKER_FIRSTNAME, self.slug)
        if not self.user.s3_canonical_user_id:
            self.user = self.api.user_get(self.user.id) or self.user

    def key_ids(self) -> list[str]:
        return self.api.s3_key_ids(self.user.id) if self.user else []

    def key_create(self) -> tuple[str, str]:
        return self.api.s3_key_create(self.user.id)

    def key_delete(self, key_id: str) -> None:
        self.api.s3_key_delete(self.user.id, key_id)

    def delete(self) -> bool:
        """Delete its keys, then the user (found before); False if it was gone already."""
        if self.user is None:
            return False
        for key_id in self.key_ids():
            self.key_delete(key_id)
        return self.api.user_delete(self.user.id)
