"""The database step: the tenant's MariaDB database and the one user that may use it."""

import re
from dataclasses import dataclass

from django.conf import settings

from provisioning.drivers.mariadb import (
    MariaDB,
    Registry,
    Session,
    literal,
    native_hash,
    redact_grants,
)
from provisioning.errors import StepFailed
from provisioning.secrets import (
    DB_PASSWORD,
    PLACEHOLDER,
    ensure,
    random_password,
    require_real,
)
from provisioning.steps.base import Looked, Outcome, Step

# Names reach SQL as backtick-quoted identifiers: allow only what can't break out of quoting.
IDENTIFIER = re.compile(r"[a-z][a-z0-9_]{0,63}")
HOST_PATTERN = re.compile(r"[A-Za-z0-9.%_:-]{1,255}")
_MAX_CONNECTIONS = re.compile(r"MAX_USER_CONNECTIONS (\d+)")
_NATIVE = re.compile(r"IDENTIFIED BY PASSWORD '(\*[0-9A-F]{40})'")
UNCHANGED = "unchanged"  # the engine's status for "ran, found nothing to do"


@dataclass(frozen=True)
class DatabaseNames:
    """The validated identifiers of one tenant's database, user and the user's host pattern."""

    database: str
    user: str
    host: str
    require_ssl: bool
    max_connections: int

    @property
    def grant_target(self) -> str:
        # In GRANT, _ and % in a database name are wildcards: wp_a_b would also match wp_axb,
        # another tenant's database. Escaped, the grant covers this database alone.
        return "`" + self.database.replace("_", r"\_") + "`.*"

    @property
    def account(self) -> str:
        return f"`{self.user}`@`{self.host}`"

    # --- the statements (sql, args): apply runs them, plan mode writes them -----------------------

    def create_database(self) -> tuple[str, list]:
        sql = f"CREATE DATABASE IF NOT EXISTS `{self.database}` CHARACTER SET utf8mb4"
        return sql + " COLLATE utf8mb4_unicode_ci", []

    def _limits(self) -> str:
        return (
            f" REQUIRE {'SSL' if self.require_ssl else 'NONE'}"
            f" WITH MAX_USER_CONNECTIONS {int(self.max_connections)}"
        )

    def create_user(self, password: str) -> tuple[str, list]:
        return "CREATE USER %s@%s IDENTIFIED BY %s" + self._limits(), [
            self.user,
            self.host,
            password,
        ]

    def set_password(self, password: str) -> tuple[str, list]:
        return "ALTER USER %s@%s IDENTIFIED BY %s", [self.user, self.host, password]

    def set_limits(self) -> tuple[str, list]:
        return "ALTER USER %s@%s" + self._limits(), [self.user, self.host]

    def revoke_all(self) -> tuple[str, list]:
        return "REVOKE ALL PRIVILEGES, GRANT OPTION FROM %s@%s", [self.user, self.host]

    def grant(self) -> tuple[str, list]:
        return f"GRANT ALL PRIVILEGES ON {self.grant_target} TO %s@%s", [self.user, self.host]

    def drop_user(self) -> tuple[str, list]:
        return "DROP USER IF EXISTS %s@%s", [self.user, self.host]

    def drop_database(self) -> tuple[str, list]:
        return f"DROP DATABASE IF EXISTS `{self.database}`", []

    # --- reading SHOW GRANTS --------------------------------------------------------------------

    def grant_line(self) -> str:
        return f"GRANT ALL PRIVILEGES ON {self.grant_target} TO {self.account}"

    def account_line(self, grants: list[str]) -> tuple[str, str]:
        """The privileges and the rest (password, REQUIRE, limits) of the user's ON *.* line."""
        suffix = f" ON *.* TO {self.account}"
        for line in grants:
            head, found, rest = line.partition(suffix)
            if found and head.startswith("GRANT "):
                return head.removeprefix("GRANT "), rest
        return "", ""

    def limit_differences(self, grants: list[str]) -> list[str]:
        _, rest = self.account_line(redact_grants(grants))
        found = _MAX_CONNECTIONS.search(rest)
        actual = int(found.group(1)) if found else 0
        differences = []
        if actual != self.max_connections:
            differences.append(
                f"max_user_connections is {actual}, the plan wants {self.max_connections}"
            )
        if ("REQUIRE SSL" in rest) != self.require_ssl:
            differences.append(
                "user does not REQUIRE SSL" if self.require_ssl else "user REQUIRES SSL"
            )
        return differences

    def grant_differences(self, grants: list[str]) -> list[str]:
        lines = redact_grants(grants)
        privileges, rest = self.account_line(lines)
        differences = []
        if privileges != "USAGE":
            differences.append(f"global privileges: {privileges}")
        if "GRANT OPTION" in rest:
            differences.append("global GRANT OPTION")
        for line in lines:
            if line != self.grant_line() and f" ON *.* TO {self.account}" not in line:
                differences.append(f"unexpected grant: {line}")
        if self.grant_line() not in lines:
            differences.append(f"no ALL PRIVILEGES grant on {self.database}")
        return differences


def database_names(spec) -> DatabaseNames:
    """The tenant's identifiers, refused unless they match the strict patterns."""
    host = settings.PORTAL_MARIADB_USER_HOST
    for what, value, pattern in (
        ("database name", spec.db_name, IDENTIFIER),
        ("database user", spec.db_user, IDENTIFIER),
        ("PORTAL_MARIADB_USER_HOST", host, HOST_PATTERN),
    ):
        if not pattern.fullmatch(value):
            raise StepFailed(
                f"The {what} {value!r} is not allowed: only lower-case letters, digits and _ "
                "(host: letters, digits, . % _ : -) may reach MariaDB."
            )
    return DatabaseNames(
        database=spec.db_name,
        user=spec.db_user,
        host=host,
        require_ssl=settings.PORTAL_MARIADB_REQUIRE_SSL,
        max_connections=int(spec.plan.max_db_connections),
    )


class DatabaseStep(Step):
    """Owns the tenant's MariaDB database wp_<slug> and its user, granted that database only."""

    name = "database"
    title = "MariaDB"
    plan_suffix = "sql"

    def make_driver(self) -> MariaDB | None:
        return MariaDB.from_settings()

    @property
    def names(self) -> DatabaseNames:
        return database_names(self.spec)

    def render(self) -> str:
        names = self.names
        registry = Registry(settings.PORTAL_MARIADB_REGISTRY)
        slug = self.spec.slug
        lines = [f"-- MariaDB for tenant {slug}: what apply runs on a fresh server."]
        for sql, args in (
            *registry.create(),
            registry.claim("database", names.database, "", slug),
            names.create_database(),
            registry.claim("user", names.user, names.host, slug),
            names.create_user(PLACEHOLDER),  # a plan never holds a real credential
            names.grant(),
        ):
            lines.append((sql % tuple(literal(str(a)) for a in args) if args else sql) + ";")
        return "\n".join(lines) + "\n"

    # --- live -----------------------------------------------------------------------------------

    def _password_valid(self, grants: list[str], password: str) -> bool:
        _, usage = self.names.account_line(grants)
        stored = _NATIVE.search(usage)
        if stored:
            return stored.group(1) == native_hash(password)
        if " IDENTIFIED VIA " in usage:  # another auth plugin: only a login can tell
            return self.driver.can_login(self.names.user, password)
        return False

    def _differences(self, db: Session, password: str | None) -> tuple[list[str], dict]:
        names = self.names
        state = {"database": db.database_exists(names.database)}
        differences = [] if state["database"] else [f"database {names.database} is missing"]
        grants = db.grants(names.user, names.host)
        state["user"] = grants is not None
        if grants is None:
            return [*differences, f"user {names.user}@{names.host} is missing"], state
        state["password"] = password is not None and self._password_valid(grants, password)
        if not state["password"]:
            differences.append("the stored password no longer opens the user")
        state["limits"] = names.limit_differences(grants)
        state["grants"] = names.grant_differences(grants)
        return [*differences, *state["limits"], *state["grants"]], state

    def _owned(self) -> list[tuple[str, str, str]]:
        """(kind, name, host) of what this step makes, as the registry records it."""
        names = self.names
        return [("database", names.database, ""), ("user", names.user, names.host)]

    @staticmethod
    def _label(kind: str, name: str, host: str) -> str:
        return f"{kind} {name}@{host}" if host else f"{kind} {name}"

    def _owners(self, db: Session) -> list[tuple[str, str, str, str | None]]:
        """(kind, name, host, the tenant whose registry row claims it) of each that exists."""
        names = self.names
        exists = {
            "database": db.database_exists(names.database),
            "user": db.grants(names.user, names.host) is not None,
        }
        return [
            (kind, name, host, db.owner(kind, name, host))
            for kind, name, host in self._owned()
            if exists[kind]
        ]

    def _foreign(self, db: Session) -> list[str]:
        """What exists under the tenant's names without the tenant's row in the registry."""
        found = []
        for kind, name, host, owner in self._owners(db):
            if owner != self.spec.slug:
                whose = f"tenant {owner}'s" if owner else "not the portal's"
                found.append(f"{self._label(kind, name, host)} ({whose})")
        return found

    def adopt(self, dry_run: bool = False) -> list[str]:
        """Record the tenant's existing database and user as the tenant's (made before the
        portal kept its registry, or by hand for it): what it records. Another tenant's
        claim refuses the whole adoption; nothing else is changed."""
        if self.planning:
            return []
        slug = self.spec.slug
        with self.driver.session() as db:
            owners = self._owners(db)
            taken = [
                f"{self._label(kind, name, host)} is tenant {owner}'s"
                for kind, name, host, owner in owners
                if owner not in (None, slug)
            ]
            if taken:
                raise StepFailed("MariaDB: " + "; ".join(taken) + ": nothing was adopted.")
            unmarked = [(kind, name, host) for kind, name, host, owner in owners if owner is None]
            if not dry_run:
                for kind, name, host in unmarked:
                    db.claim(kind, name, host, slug)
        return [f"MariaDB {self._label(*what)}" for what in unmarked]

    def _refuse_foreign(self, db: Session) -> None:
        foreign = self._foreign(db)
        if foreign:
            registry = db.registry.table
            raise StepFailed(
                f"MariaDB already has {' and '.join(foreign)}: the portal adopts only what its "
                f"registry {registry} records for tenant {self.spec.slug}, so nothing was "
                "changed. Drop or rename it, pick another slug, or, if it is this tenant's, "
                f"adopt it: manage.py tenant_adopt {self.spec.slug}."
            )

    def live_check(self) -> list[str]:
        names = self.names  # a crafted name stops here, before any SQL
        require_real(self.ctx.secrets, "The MariaDB database")
        password = self.ctx.secrets.get(DB_PASSWORD)
        with self.driver.session(secret=password or "") as db:
            foreign = self._foreign(db)
            if foreign:
                return [f"{what} exists and is not this tenant's" for what in foreign]
            differences, _ = self._differences(db, password)
        if password is None:
            differences.insert(0, f"no password for {names.user} in the tenant's Secret yet")
        return differences

    def live_apply(self) -> Outcome:
        names = self.names
        require_real(self.ctx.secrets, "The MariaDB database")
        with self.driver.session() as db:  # before a password exists: nothing to leak yet
            self._refuse_foreign(db)
        password = ensure(self.ctx.secrets, DB_PASSWORD)  # stored before MariaDB sees it
        done = []
        with self.driver.session(secret=password) as db:
            _, state = self._differences(db, password)
            if not state["database"]:
                db.claim("database", names.database, "", self.spec.slug)
                db.run(*names.create_database())
                done.append(f"created database {names.database}")
            if not state["user"]:
                db.claim("user", names.user, names.host, self.spec.slug)
                db.run(*names.create_user(password))
                done.append(f"created user {names.user}@{names.host}")
            else:
                if not state["password"]:
                    db.run(*names.set_password(password))
                    done.append("set the user's password to the stored one")
                if state["limits"]:
                    db.run(*names.set_limits())
                    done.append("fixed " + "; ".join(state["limits"]))
            if not state["user"] or state["grants"]:
                if state["user"]:
                    db.run(*names.revoke_all())
                db.run(*names.grant())
                done.append(f"granted ALL PRIVILEGES on {names.database} only")
        if not done:
            return Outcome(UNCHANGED, "already matches")
        return Outcome.done("; ".join(done))

    def live_destroy(self) -> Outcome:
        names = self.names
        drops = {"database": names.drop_database(), "user": names.drop_user()}
        with self.driver.session() as db:
            foreign = self._foreign(db)
            done, left = [], []
            for kind, name, host in reversed(self._owned()):  # the user first, then its data
                label = self._label(kind, name, host)
                if any(what.startswith(label + " ") for what in foreign):
                    left.append(label)
                    continue
                db.run(*drops[kind])
                db.release(kind, name, host)
                done.append(label)
        message = "dropped " + " and ".join(done) if done else "dropped nothing"
        if left:
            message += f"; left {' and '.join(left)} alone: not this tenant's"
        return Outcome.done(message)

    def live_gone(self) -> list[Looked]:
        with self.driver.session() as db:
            present = {(kind, name, host): owner for kind, name, host, owner in self._owners(db)}
        looked = []
        for what in self._owned():
            label = self._label(*what)
            if what not in present:
                looked.append(Looked(label))
            else:
                # The destroy releases the registry row only after the DROP: the tenant's row
                # still there means the drop didn't happen; another's or none, a foreign one.
                ours = present[what] == self.spec.slug
                looked.append(Looked(label, f"MariaDB still has {label}", ours=ours))
        return looked

    def rotate_password(self) -> None:
        """A new password: stored in the Secret first, then set on the user (WordPress restarts
        separately). A crash in between is repaired by the next apply, which sets the stored one."""
        if self.planning:
            raise StepFailed(
                "MariaDB runs in plan mode (PORTAL_MARIADB_URL unset): nothing to rotate."
            )
        names = self.names
        require_real(self.ctx.secrets, "The MariaDB database")
        password = random_password()
        with self.driver.session(secret=password) as db:
            if db.grants(names.user, names.host) is None:
                raise StepFailed(f"MariaDB has no user {names.user}@{names.host}: reconcile first.")
            self._refuse_foreign(db)
            self.ctx.secrets.put({DB_PASSWORD: password})
            db.run(*names.set_password(password))
