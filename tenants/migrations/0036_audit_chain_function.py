"""The chain's next link made inside PostgreSQL, so an audit event is one statement."""

from django.db import migrations

# The advisory lock's key is audit_record()'s of before (tenants/audit.py): a worker still on
# the previous version, mid-deploy, takes turns with this function, not beside it.
CHAIN_SQL = """
CREATE OR REPLACE FUNCTION tenants_auditevent_chain(
    canonical text, stand_in text, OUT id bigint, OUT prev_hash varchar, OUT hash varchar
) LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(740221001);
    -- A query of its own, so (VOLATILE, READ COMMITTED) a snapshot of its own, taken after the
    -- lock: the event of the writer this one waited for is seen, though the INSERT calling this
    -- function began before the wait.
    SELECT e.hash INTO prev_hash FROM tenants_auditevent e ORDER BY e.id DESC LIMIT 1;
    prev_hash := COALESCE(prev_hash, repeat('0', 64));
    -- The id after the lock too: the chain is walked in the order of the ids.
    id := nextval(pg_get_serial_sequence('tenants_auditevent', 'id'));
    hash := encode(sha256(convert_to(replace(canonical, stand_in, prev_hash), 'UTF8')), 'hex');
END;
$$;
"""
DROP_SQL = "DROP FUNCTION IF EXISTS tenants_auditevent_chain(text, text);"


def _on_postgresql(sql: str):
    """A step for PostgreSQL alone: SQLite (the embedded mode) chains in Python."""

    def step(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return step


class Migration(migrations.Migration):
    dependencies = [("tenants", "0035_auditevent_actor_name_index")]

    operations = [migrations.RunPython(_on_postgresql(CHAIN_SQL), _on_postgresql(DROP_SQL))]
