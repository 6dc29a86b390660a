"""The database step against the real MariaDB server: isolation, idempotence, teardown."""

import uuid

import pymysql
import pytest

from provisioning.drivers.mariadb import MariaDBTarget
from provisioning.errors import StepFailed, TransientError
from provisioning.secrets import DB_PASSWORD, MemorySecrets, PlanSecrets
from provisioning.spec import PlanSpec, TenantSpec
from provisioning.steps.base import StepContext
from provisioning.steps.database import DatabaseStep
from tests import services

PLAN = PlanSpec(
    name="small",
    cpu_request_millicores=250,
    cpu_limit_millicores=1000,
    memory_request_mib=256,
    memory_limit_mib=512,
    storage_gib=5,
    replicas=1,
    max_pods=4,
    max_db_connections=12,
)


def make_spec(slug: str, max_db_connections: int = 12) -> TenantSpec:
    plan = PlanSpec(**{**PLAN.__dict__, "max_db_connections": max_db_connections})
    return TenantSpec(
        tenant_id=1,
        slug=slug,
        display_name=slug,
        admin_email="owner@example.com",
        host=f"wordpress-{slug}.local",
        wordpress_version="6.8",
        plan=plan,
    )


def admin():
    t = MariaDBTarget.from_url(services.MARIADB_URL)
    return pymysql.connect(host=t.host, port=t.port, user=t.user, password=t.password,
                           autocommit=True)  # fmt: skip


def login(spec: TenantSpec, password: str, database: str | None = None):
    t = MariaDBTarget.from_url(services.MARIADB_URL)
    return pymysql.connect(host=t.host, port=t.port, user=spec.db_user, password=password,
                           database=database, autocommit=True)  # fmt: skip


def query(conn, sql: str, args=None) -> list[tuple]:
    with conn.cursor() as cursor:
        cursor.execute(sql, args)
        return list(cursor.fetchall())


@pytest.fixture
def mariadb(settings):
    services.require("MariaDB", services.MARIADB)
    settings.PORTAL_MARIADB_URL = services.MARIADB_URL
    settings.PORTAL_MARIADB_USER_HOST = "%"
    settings.PORTAL_MARIADB_REQUIRE_SSL = False
    created: list[TenantSpec] = []

    def tenant(suffix: str = "", max_db_connections: int = 12, slug: str = "") -> DatabaseStep:
        spec = make_spec(slug or f"t{uuid.uuid4().hex[:10]}{suffix}", max_db_connections)
        created.append(spec)
        return DatabaseStep(StepContext(spec=spec, secrets=MemorySecrets()))

    yield tenant
    conn = admin()
    for spec in created:
        query(conn, "DROP USER IF EXISTS %s@'%%'", [spec.db_user])
        query(conn, f"DROP DATABASE IF EXISTS `{spec.db_name}`")
        if query(conn, "SHOW DATABASES LIKE 'tenant\\_portal'"):
            query(conn, "DELETE FROM tenant_portal.owned WHERE tenant = %s", [spec.slug])
    conn.close()


def test_tenant_user_works_in_its_own_database_and_sees_no_other(mariadb):
    mine = mariadb("-c")  # wp_t…_c: unescaped, its grant would also match wp_t…xc below
    theirs = mariadb(slug=mine.spec.slug[:-2] + "xc")
    for step in (mine, theirs):
        assert step.apply().status == "done"
    password = mine.ctx.secrets.get(DB_PASSWORD)
    assert len(password) >= 32

    conn = login(mine.spec, password, mine.spec.db_name)
    query(conn, "CREATE TABLE posts (id INT PRIMARY KEY, title VARCHAR(50))")
    query(conn, "INSERT INTO posts VALUES (1, 'hello')")
    assert query(conn, "SELECT title FROM posts") == [("hello",)]
    assert {row[0] for row in query(conn, "SHOW DATABASES")} == {
        "information_schema",
        mine.spec.db_name,
    }
    with pytest.raises(pymysql.err.OperationalError) as denied:
        query(conn, f"USE `{theirs.spec.db_name}`")
    assert denied.value.args[0] == 1044
    with pytest.raises(pymysql.err.OperationalError) as no_users:
        query(conn, "CREATE USER 'intruder'@'%' IDENTIFIED BY 'x'")
    assert no_users.value.args[0] == 1227
    with pytest.raises(pymysql.err.OperationalError):
        query(conn, "GRANT SELECT ON posts TO 'wp_other'@'%'")  # no GRANT OPTION
    assert query(conn, "SELECT @@max_user_connections") == [(12,)]
    conn.close()


def test_second_apply_changes_nothing(mariadb):
    step = mariadb()
    step.apply()
    password = step.ctx.secrets.get(DB_PASSWORD)
    conn = admin()
    before = query(conn, "SHOW GRANTS FOR %s@'%%'", [step.spec.db_user])

    assert step.check() == []
    outcome = step.apply()
    assert outcome.status == "unchanged"
    assert query(conn, "SHOW GRANTS FOR %s@'%%'", [step.spec.db_user]) == before
    assert step.ctx.secrets.get(DB_PASSWORD) == password
    login(step.spec, password).close()
    conn.close()


def test_check_reports_drift_and_apply_repairs_it(mariadb):
    step = mariadb()
    step.apply()
    user = step.spec.db_user
    conn = admin()
    query(conn, "GRANT SELECT ON *.* TO %s@'%%'", [user])
    query(conn, "GRANT ALL ON `mysql`.* TO %s@'%%' WITH GRANT OPTION", [user])
    query(conn, "ALTER USER %s@'%%' IDENTIFIED BY 'not-the-stored-one' "
                "WITH MAX_USER_CONNECTIONS 99", [user])  # fmt: skip

    differences = step.check()
    assert "the stored password no longer opens the user" in differences
    assert "max_user_connections is 99, the plan wants 12" in differences
    assert "global privileges: SELECT" in differences
    assert any("`mysql`" in d for d in differences)
    assert not any("not-the-stored-one" in d for d in differences)

    step.apply()
    assert step.check() == []
    grants = " ".join(row[0] for row in query(conn, "SHOW GRANTS FOR %s@'%%'", [user]))
    assert "SELECT ON *.*" not in grants and "mysql" not in grants
    assert "GRANT OPTION" not in grants
    login(step.spec, step.ctx.secrets.get(DB_PASSWORD)).close()
    conn.close()


def test_missing_database_is_recreated_and_plan_change_applied(mariadb):
    step = mariadb()
    step.apply()
    conn = admin()
    query(conn, f"DROP DATABASE `{step.spec.db_name}`")
    bigger = DatabaseStep(
        StepContext(spec=make_spec(step.spec.slug, max_db_connections=30), secrets=step.ctx.secrets)
    )
    assert bigger.check() == [
        f"database {step.spec.db_name} is missing",
        "max_user_connections is 12, the plan wants 30",
    ]
    bigger.apply()
    assert bigger.check() == []
    conn.close()


def test_destroy_leaves_no_user_and_no_database(mariadb):
    step = mariadb()
    step.apply()
    step.destroy()
    conn = admin()
    assert query(conn, "SELECT 1 FROM mysql.user WHERE User = %s", [step.spec.db_user]) == []
    assert query(conn, "SHOW DATABASES LIKE %s", [step.spec.db_name]) == []
    conn.close()
    assert step.destroy().status == "done"  # gone already counts as removed


def test_rotation_stores_then_sets_a_new_password(mariadb):
    step = mariadb()
    step.apply()
    old = step.ctx.secrets.get(DB_PASSWORD)
    step.rotate_password()
    new = step.ctx.secrets.get(DB_PASSWORD)
    assert new != old and len(new) >= 32
    login(step.spec, new).close()
    with pytest.raises(pymysql.err.OperationalError):
        login(step.spec, old)
    assert step.check() == []


@pytest.mark.parametrize(
    "slug", ["x`; DROP DATABASE mysql; --", "a' OR '1'='1", "UPPER", "a.b", "ünicode"]
)
def test_crafted_slug_is_refused_before_any_sql(settings, slug):
    # Nothing listens on port 1: reaching for the server would be a TransientError instead.
    settings.PORTAL_MARIADB_URL = "mysql://root@127.0.0.1:1/"
    step = DatabaseStep(StepContext(spec=make_spec(slug), secrets=MemorySecrets()))
    for action in (step.check, step.apply, step.destroy):
        with pytest.raises(StepFailed, match="is not allowed"):
            action()
    assert step.ctx.secrets.values == {}


def test_unreachable_server_is_retried_and_denial_explained(settings):
    settings.PORTAL_MARIADB_URL = "mysql://root@127.0.0.1:1/"
    settings.PORTAL_MARIADB_TIMEOUT = 2
    step = DatabaseStep(StepContext(spec=make_spec("reachable"), secrets=MemorySecrets()))
    with pytest.raises(TransientError):
        step.apply()

    services.require("MariaDB", services.MARIADB)
    settings.PORTAL_MARIADB_URL = "mysql://root:Wr0ngAdminPw@127.0.0.1:3306/"
    step = DatabaseStep(StepContext(spec=make_spec("denied"), secrets=MemorySecrets()))
    with pytest.raises(StepFailed) as failed:
        step.apply()
    message = str(failed.value)
    assert "refused the portal's admin account" in message
    assert "Wr0ngAdminPw" not in message
    assert step.ctx.secrets.get(DB_PASSWORD) is None  # refused before a password was made


def test_real_mariadb_needs_a_real_secret_store(mariadb):
    step = mariadb()
    step.ctx.secrets = PlanSecrets()
    with pytest.raises(StepFailed, match="plan mode"):
        step.apply()


def test_plan_mode_writes_the_exact_sql_without_the_password(settings):
    settings.PORTAL_MARIADB_URL = ""
    settings.PORTAL_MARIADB_REQUIRE_SSL = True
    secrets = MemorySecrets()
    step = DatabaseStep(StepContext(spec=make_spec("my-site"), secrets=secrets))
    assert step.apply().status == "planned"
    assert step.plan_file.read_text() == (
        "-- MariaDB for tenant my-site: what apply runs on a fresh server.\n"
        "CREATE DATABASE IF NOT EXISTS `tenant_portal` CHARACTER SET utf8mb4;\n"
        "CREATE TABLE IF NOT EXISTS `tenant_portal`.`owned` (kind VARCHAR(16) NOT NULL, "
        "name VARCHAR(64) NOT NULL, host VARCHAR(255) NOT NULL, tenant VARCHAR(64) NOT NULL, "
        "created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, "
        "PRIMARY KEY (kind, name, host));\n"
        "INSERT IGNORE INTO `tenant_portal`.`owned` (kind, name, host, tenant) "
        "VALUES ('database', 'wp_my_site', '', 'my-site');\n"
        "CREATE DATABASE IF NOT EXISTS `wp_my_site` CHARACTER SET utf8mb4"
        " COLLATE utf8mb4_unicode_ci;\n"
        "INSERT IGNORE INTO `tenant_portal`.`owned` (kind, name, host, tenant) "
        "VALUES ('user', 'wp_my_site', '%', 'my-site');\n"
        "CREATE USER 'wp_my_site'@'%' IDENTIFIED BY '<generated>'"
        " REQUIRE SSL WITH MAX_USER_CONNECTIONS 12;\n"
        "GRANT ALL PRIVILEGES ON `wp\\_my\\_site`.* TO 'wp_my_site'@'%';\n"
    )
    assert secrets.values == {}
    assert step.check() == []


def test_tls_is_asked_for_by_the_url():
    assert MariaDBTarget.from_url("mysql://root@db:3306/?ssl=true").tls
    target = MariaDBTarget.from_url("mysql://adm:p%40ss@db/?ssl-ca=/etc/ca.pem")
    assert (target.tls, target.ca, target.password, target.port) == (
        True,
        "/etc/ca.pem",
        "p@ss",
        3306,
    )
    assert not MariaDBTarget.from_url("mysql://root@127.0.0.1:3306/").tls


# --- ownership: the registry row is the tenant's marker -----------------------------------------


def owned_rows(conn, spec: TenantSpec) -> list[tuple]:
    sql = "SELECT kind, name, host FROM tenant_portal.owned WHERE tenant = %s ORDER BY kind"
    return query(conn, sql, [spec.slug])


def test_apply_records_what_it_made_and_adopts_its_own(mariadb):
    step = mariadb()
    step.apply()
    conn = admin()
    name = step.spec.db_name
    assert owned_rows(conn, step.spec) == [("database", name, ""), ("user", name, "%")]
    # A later run (a new worker, the same tenant) finds its rows and carries on.
    again = DatabaseStep(StepContext(spec=step.spec, secrets=step.ctx.secrets))
    assert again.check() == []
    assert again.apply().status == "unchanged"
    conn.close()


@pytest.mark.parametrize("taken", ["database", "user", "both"])
def test_a_name_taken_by_someone_else_fails_and_changes_nothing(mariadb, taken):
    step = mariadb()
    spec = step.spec
    conn = admin()
    if taken in ("database", "both"):
        query(conn, f"CREATE DATABASE `{spec.db_name}`")
        query(conn, f"CREATE TABLE `{spec.db_name}`.data (id INT)")
    if taken in ("user", "both"):
        query(conn, "CREATE USER %s@'%%' IDENTIFIED BY 'their-own-pw'", [spec.db_user])
        query(conn, "GRANT SELECT ON `mysql`.* TO %s@'%%'", [spec.db_user])
    before = query(conn, "SELECT User, Host, authentication_string FROM mysql.user "
                         "WHERE User = %s", [spec.db_user])  # fmt: skip
    grants = query(conn, "SHOW GRANTS FOR %s@'%%'", [spec.db_user]) if taken != "database" else []

    assert any("is not this tenant's" in d for d in step.check())
    with pytest.raises(StepFailed) as failed:
        step.apply()
    message = str(failed.value)
    if taken != "user":
        assert f"database {spec.db_name} (not the portal's)" in message
    if taken != "database":
        assert f"user {spec.db_user}@% (not the portal's)" in message
    assert "nothing was changed" in message
    with pytest.raises(StepFailed, match="nothing was changed"):
        step.rotate_password() if taken != "database" else step.apply()

    assert step.ctx.secrets.values == {}  # no password made for a user it may not touch
    after = query(conn, "SELECT User, Host, authentication_string FROM mysql.user "
                        "WHERE User = %s", [spec.db_user])  # fmt: skip
    assert after == before
    if taken != "database":
        assert query(conn, "SHOW GRANTS FOR %s@'%%'", [spec.db_user]) == grants
        login(spec, "their-own-pw").close()
    if taken != "user":
        assert query(conn, f"SHOW TABLES FROM `{spec.db_name}`") == [("data",)]
    else:
        assert query(conn, "SHOW DATABASES LIKE %s", [spec.db_name]) == []  # not created either
    assert owned_rows(conn, spec) == []
    conn.close()


def test_another_tenants_claim_is_named(mariadb):
    step = mariadb()
    step.apply()
    conn = admin()
    query(conn, "UPDATE tenant_portal.owned SET tenant = 'someone-else' WHERE tenant = %s",
          [step.spec.slug])  # fmt: skip
    with pytest.raises(StepFailed, match="tenant someone-else's"):
        step.apply()
    query(conn, "DELETE FROM tenant_portal.owned WHERE tenant = 'someone-else'")
    conn.close()


def test_destroy_leaves_what_is_not_the_tenants(mariadb):
    step = mariadb()
    spec = step.spec
    conn = admin()
    query(conn, f"CREATE DATABASE `{spec.db_name}`")
    query(conn, "CREATE USER %s@'%%' IDENTIFIED BY 'their-own-pw'", [spec.db_user])

    outcome = step.destroy()
    assert outcome.status == "done"
    assert "left user" in outcome.message and "not this tenant's" in outcome.message
    assert query(conn, "SHOW DATABASES LIKE %s", [spec.db_name]) == [(spec.db_name,)]
    login(spec, "their-own-pw").close()
    conn.close()


def test_a_claim_left_by_a_crash_before_create_is_finished(mariadb):
    step = mariadb()
    step.apply()
    conn = admin()
    query(conn, "DROP USER %s@'%%'", [step.spec.db_user])  # as if the worker died after the claim
    assert step.check() == [f"user {step.spec.db_user}@% is missing"]
    step.apply()
    assert step.check() == []
    conn.close()
