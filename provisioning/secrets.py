"""Where a tenant's generated credentials live: its Kubernetes Secret, never the portal DB."""

import json
import secrets
import string
from collections.abc import Iterable
from typing import Protocol

from django.utils.crypto import salted_hmac

from provisioning.errors import StepFailed

PLACEHOLDER = "<generated>"
SECRET_NAME = "wordpress-credentials"
_ALPHABET = string.ascii_letters + string.digits


def random_password(length: int = 40) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def random_salt(length: int = 64) -> str:
    # WordPress salts may hold punctuation; these stay shell- and YAML-safe.
    return "".join(secrets.choice(_ALPHABET + "!#%+,-./:=@^_~") for _ in range(length))


class SecretStore(Protocol):
    planned: bool

    def get(self, key: str) -> str | None: ...

    def put(self, values: dict[str, str]) -> None: ...

    def discard(self, keys: Iterable[str]) -> None: ...


def ensure(store: SecretStore, key: str, generate=random_password) -> str:
    """The stored value of key, generating and storing one first if there is none yet.

    Stored before it is returned, so a crash between "generated" and "used" loses nothing.
    """
    if store.planned:
        return PLACEHOLDER
    value = store.get(key)
    if value is None:
        value = generate()
        store.put({key: value})
    return value


def ensure_all(store: SecretStore, generators: dict) -> None:
    """Generate every key of generators that the store lacks, and store them in one write."""
    if store.planned:
        return
    missing = {key: generate() for key, generate in generators.items() if store.get(key) is None}
    if missing:
        store.put(missing)


def fingerprint(store: SecretStore, keys: Iterable[str]) -> str:
    """A short keyed hash (HMAC with the portal's SECRET_KEY) of the values of keys.

    It changes whenever one of them does, yet tells nothing about them to whoever reads the
    manifest it goes in: without the portal's key no guess of a value can be checked.
    """
    values = {key: store.get(key) for key in sorted(keys)}
    message = json.dumps(values, sort_keys=True)
    return salted_hmac("provisioning.secrets.fingerprint", message, algorithm="sha256").hexdigest()[
        :20
    ]


class PlanSecrets:
    """Plan mode's store: every value is the placeholder and nothing is kept."""

    planned = True

    def get(self, key: str) -> str | None:
        return PLACEHOLDER

    def put(self, values: dict[str, str]) -> None:
        return None

    def discard(self, keys: Iterable[str]) -> None:
        return None


class MemorySecrets:
    """A store in memory, for steps run without a cluster (tests, one-off commands)."""

    planned = False

    def __init__(self, values: dict[str, str] | None = None):
        self.values = dict(values or {})

    def get(self, key: str) -> str | None:
        return self.values.get(key)

    def put(self, values: dict[str, str]) -> None:
        self.values.update(values)

    def discard(self, keys: Iterable[str]) -> None:
        for key in keys:
            self.values.pop(key, None)


def require_real(store: SecretStore, what: str) -> None:
    """A real outside resource needs a real place for its credential."""
    if store.planned:
        raise StepFailed(
            f"{what} can't be created for real while Kubernetes runs in plan mode: its "
            "credentials would have nowhere safe to live. Configure the cluster "
            "(PORTAL_KUBECONFIG or PORTAL_KUBE_IN_CLUSTER) or leave this system in plan mode."
        )


# The keys of the tenant's Secret, and which step writes each (generated once, then reused).
DB_PASSWORD = "WORDPRESS_DB_PASSWORD"  # database step
S3_ACCESS_KEY_ID = "S3_ACCESS_KEY_ID"  # storage step
S3_SECRET_ACCESS_KEY = "S3_SECRET_ACCESS_KEY"  # storage step
OIDC_CLIENT_ID = "OIDC_CLIENT_ID"  # sso step
OIDC_CLIENT_SECRET = "OIDC_CLIENT_SECRET"  # sso step
PIPELINE_CLIENT_ID = "PIPELINE_CLIENT_ID"  # pipeline step (only while the switch is on)
PIPELINE_CLIENT_SECRET = "PIPELINE_CLIENT_SECRET"  # pipeline step
PIPELINE_WEBHOOK_SECRET = "PIPELINE_WEBHOOK_SECRET"  # pipeline step: signs confirmations
PIPELINE_REPORT_SECRET = "PIPELINE_REPORT_SECRET"  # pipeline step: signs the pipeline's errors
PIPELINE_APP_PASSWORD = "PIPELINE_APP_PASSWORD"  # pipeline step: read from Authentik, not made
WP_ADMIN_PASSWORD = "WORDPRESS_ADMIN_PASSWORD"  # wordpress step (the install Job uses it)
WP_SALT_KEYS = tuple(
    f"WORDPRESS_{kind}_{part}"
    for kind in ("AUTH", "SECURE_AUTH", "LOGGED_IN", "NONCE")
    for part in ("KEY", "SALT")
)  # wordpress step

# Every credential the portal makes up itself (the S3 keys come from the S3 API), and how: the
# namespace step writes them all with the Secret, one write instead of one per key; each
# step's own ensure() stays, for a Secret emptied by hand.
GENERATED = {
    DB_PASSWORD: random_password,
    OIDC_CLIENT_ID: lambda: random_password(40),
    OIDC_CLIENT_SECRET: lambda: random_password(64),
    WP_ADMIN_PASSWORD: random_password,
    **dict.fromkeys(WP_SALT_KEYS, random_salt),
}
