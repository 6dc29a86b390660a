"""The platform's MariaDB, spoken to as its admin account over PyMySQL."""

import hashlib
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import pymysql
from django.conf import settings
from pymysql.converters import escape_string

from provisioning.errors import StepFailed, TransientError

# Server error codes that mean the admin account may not do this: a human must grant it.
_DENIED = {1044, 1045, 1142, 1227, 1370, 1410, 1698}
# Codes worth retrying: too many connections, lock wait, deadlock, server shutting down.
_PASSING = {1040, 1053, 1205, 1213, 1317}
_TRUE = {"1", "true", "yes", "on", "required", "require"}
_NO_TABLE = {1049, 1146}  # unknown database, unknown table: the registry was never written
REGISTRY_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class MariaDBTarget:
    """Where the admin connection goes and how, parsed from PORTAL_MARIADB_URL."""

    host: str
    port: int
    user: str
    password: str
    tls: bool
    ca: str | None
    verify_identity: bool

    @classmethod
    def from_url(cls, url: str) -> "MariaDBTarget":
        parts = urlsplit(url)
        if parts.scheme not in {"mysql", "mariadb"} or not parts.hostname:
            raise StepFailed("PORTAL_MARIADB_URL must look like mysql://user:password@host:3306/.")
        query = {key.replace("_", "-"): values[-1] for key, values in parse_qs(parts.query).items()}
        ca = query.get("ssl-ca") or None
        return cls(
            host=parts.hostname,
            port=parts.port or 3306,
            user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
            tls=bool(ca) or query.get("ssl", "").lower() in _TRUE,
            ca=ca,
            verify_identity=query.get("ssl-verify-identity", "true").lower() in _TRUE,
        )


def native_hash(password: str) -> str:
    """mysql_native_password's stored form of a password: '*' + hex(SHA1(SHA1(password)))."""
    inner = hashlib.sha1(password.encode()).digest()  # noqa: S324  (the server's own scheme)
    return "*" + hashlib.sha1(inner).hexdigest().upper()  # noqa: S324


def literal(value: str) -> str:
    """A quoted SQL string literal; what PyMySQL sends for a %s parameter."""
    return "'" + escape_string(value) + "'"


class MariaDB:
    """One admin session per call: short-lived, with timeouts, TLS when the URL asks for it."""

    def __init__(self, url: str, timeout: int = 10, registry: str = "tenant_portal"):
        self.target = MariaDBTarget.from_url(url)
        self.timeout = timeout
        if not REGISTRY_NAME.fullmatch(registry):
            raise StepFailed(
                f"PORTAL_MARIADB_REGISTRY {registry!r} is not allowed: lower-case letters, "
                "digits and _, starting with a letter."
            )
        self.registry = Registry(registry)

    @classmethod
    def from_settings(cls) -> "MariaDB | None":
        if not settings.PORTAL_MARIADB_URL:
            return None
        return cls(
            settings.PORTAL_MARIADB_URL,
            timeout=settings.PORTAL_MARIADB_TIMEOUT,
            registry=settings.PORTAL_MARIADB_REGISTRY,
        )

    def _connect(self, user: str, password: str, database: str | None = None):
        t = self.target
        # Without TLS asked for, none: PyMySQL would otherwise build a TLS context (loading the
        # system's CA certificates, ~70 ms) on every connection to try an unverified one.
        tls = {"ssl_disabled": True}
        if t.tls:
            tls = {
                "ssl_ca": t.ca,
                "ssl_verify_cert": True,
                "ssl_verify_identity": t.verify_identity,
            }
        return pymysql.connect(
            host=t.host,
            port=t.port,
            user=user,
            password=password,
            database=database,
            charset="utf8mb4",
            autocommit=True,
            connect_timeout=self.timeout,
            read_timeout=self.timeout * 3,
            write_timeout=self.timeout * 3,
            **tls,
        )

    @contextmanager
    def session(self, secret: str = "") -> Iterator["Session"]:
        """An admin session; errors become TransientError/StepFailed, with secret blanked out."""
        with translated(secret):
            conn = self._connect(self.target.user, self.target.password)
            try:
                yield Session(conn, self.registry)
            finally:
                conn.close()

    def can_login(self, user: str, password: str) -> bool:
        """Whether user/password opens a session: the check for non-native auth plugins."""
        try:
            self._connect(user, password).close()
        except pymysql.err.OperationalError as exc:
            if exc.args and exc.args[0] in _DENIED:
                return False
            raise TransientError(
                f"MariaDB could not be reached: {_message(exc, password)}"
            ) from exc
        return True


class Session:
    """Statements run as the admin; parameters go through PyMySQL's quoting, never f-strings."""

    def __init__(self, conn, registry: "Registry"):
        self.conn = conn
        self.registry = registry

    def run(self, sql: str, args: Sequence[str | int] = ()) -> None:
        with self.conn.cursor() as cursor:
            cursor.execute(sql, tuple(args) or None)

    def rows(self, sql: str, args: Sequence[str | int] = ()) -> list[tuple]:
        with self.conn.cursor() as cursor:
            cursor.execute(sql, tuple(args) or None)
            return list(cursor.fetchall())

    def database_exists(self, name: str) -> bool:
        return bool(
            self.rows("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", [name])
        )

    def grants(self, user: str, host: str) -> list[str] | None:
        """SHOW GRANTS lines of user@host, or None when there is no such user."""
        try:
            return [row[0] for row in self.rows("SHOW GRANTS FOR %s@%s", [user, host])]
        except pymysql.err.OperationalError as exc:
            if exc.args and exc.args[0] == 1141:  # "There is no such grant defined"
                return None
            raise

    # --- the registry of what the portal made ------------------------------------------------

    def owner(self, kind: str, name: str, host: str = "") -> str | None:
        """The tenant whose row claims this database or user, or None (not the portal's)."""
        try:
            found = self.rows(*self.registry.owner(kind, name, host))
        except pymysql.err.MySQLError as exc:
            if exc.args and exc.args[0] in _NO_TABLE:
                return None
            raise
        return found[0][0] if found else None

    def claim(self, kind: str, name: str, host: str, tenant: str) -> None:
        """Record that the portal makes this for the tenant: before it exists, so a crash
        between the two leaves a claim (the next run creates it), never an unmarked object."""
        for statement in self.registry.create():
            self.run(*statement)
        self.run(*self.registry.claim(kind, name, host, tenant))

    def release(self, kind: str, name: str, host: str = "") -> None:
        try:
            self.run(*self.registry.release(kind, name, host))
        except pymysql.err.MySQLError as exc:
            if not (exc.args and exc.args[0] in _NO_TABLE):
                raise


@dataclass(frozen=True)
class Registry:
    """The portal's own schema on the server, one row per database and user it made.

    The marker cannot live on the objects themselves: MariaDB users take no COMMENT or
    ATTRIBUTE (10.11 refuses both), and a database's COMMENT can be rewritten by its tenant,
    who holds ALTER on it. No tenant is granted anything on this schema.
    """

    schema: str

    @property
    def table(self) -> str:
        return f"`{self.schema}`.`owned`"

    def create(self) -> list[tuple[str, list]]:
        return [
            (f"CREATE DATABASE IF NOT EXISTS `{self.schema}` CHARACTER SET utf8mb4", []),
            (
                f"CREATE TABLE IF NOT EXISTS {self.table} ("
                "kind VARCHAR(16) NOT NULL, name VARCHAR(64) NOT NULL, "
                "host VARCHAR(255) NOT NULL, tenant VARCHAR(64) NOT NULL, "
                "created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, "
                "PRIMARY KEY (kind, name, host))",
                [],
            ),
        ]

    # The schema name was checked against REGISTRY_NAME; every value goes as a parameter.

    def owner(self, kind: str, name: str, host: str) -> tuple[str, list]:
        sql = f"SELECT tenant FROM {self.table} WHERE kind = %s AND name = %s AND host = %s"  # noqa: S608
        return sql, [kind, name, host]

    def claim(self, kind: str, name: str, host: str, tenant: str) -> tuple[str, list]:
        # INSERT IGNORE: a row there already is kept; the caller checked whose it is.
        sql = f"INSERT IGNORE INTO {self.table} (kind, name, host, tenant) VALUES (%s, %s, %s, %s)"  # noqa: S608
        return sql, [kind, name, host, tenant]

    def release(self, kind: str, name: str, host: str) -> tuple[str, list]:
        sql = f"DELETE FROM {self.table} WHERE kind = %s AND name = %s AND host = %s"  # noqa: S608
        return sql, [kind, name, host]


_PASSWORD_IN_GRANT = re.compile(r" IDENTIFIED (?:BY PASSWORD|VIA \S+ USING) '[^']*'")


def redact_grants(lines: list[str]) -> list[str]:
    """Grant lines with the stored password hash removed, fit for a log or a comparison."""
    return [_PASSWORD_IN_GRANT.sub("", line) for line in lines]


def _message(exc: Exception, secret: str) -> str:
    text = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    if secret:
        text = text.replace(secret, "<redacted>").replace(escape_string(secret), "<redacted>")
    return text


@contextmanager
def translated(secret: str = "") -> Iterator[None]:
    """Turn PyMySQL errors into the engine's two kinds, never quoting a secret back."""
    try:
        yield
    except pymysql.err.OperationalError as exc:
        code = exc.args[0] if exc.args else 0
        text = _message(exc, secret)
        if code in _DENIED:
            raise StepFailed(
                f"MariaDB refused the portal's admin account ({code}: {text}); grant it the "
                "rights to create databases and users, or fix PORTAL_MARIADB_URL."
            ) from exc
        if code in _PASSING or code >= 2000 or code == 0:
            raise TransientError(f"MariaDB could not be reached: {text}") from exc
        raise StepFailed(f"MariaDB refused a statement ({code}: {text}).") from exc
    except (pymysql.err.InterfaceError, OSError) as exc:
        raise TransientError(f"MariaDB connection lost: {_message(exc, secret)}") from exc
    except pymysql.err.MySQLError as exc:
        code = exc.args[0] if exc.args else 0
        raise StepFailed(f"MariaDB refused a statement ({code}: {_message(exc, secret)}).") from exc
