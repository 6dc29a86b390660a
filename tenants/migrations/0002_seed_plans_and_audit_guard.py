"""Seed the small, medium and large plans; make audit rows immutable inside PostgreSQL too.

Row-level only: TRUNCATE stays possible for the table's owner (test suites flush with it).
"""

from django.db import migrations

PLANS = [
    # name, title, cpu req/limit (m), mem req/limit (MiB), storage GiB, replicas, pods, db conns
    ("small", "Small", 250, 500, 256, 512, 5, 1, 6, 20, 0),
    ("medium", "Medium", 500, 1000, 512, 1024, 20, 2, 10, 40, 1),
    ("large", "Large", 1000, 2000, 1024, 2048, 50, 3, 16, 80, 2),
]

GUARD_SQL = """
CREATE OR REPLACE FUNCTION tenants_auditevent_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER tenants_auditevent_no_update BEFORE UPDATE OR DELETE ON tenants_auditevent
    FOR EACH ROW EXECUTE FUNCTION tenants_auditevent_immutable();
"""
UNGUARD_SQL = """
DROP TRIGGER IF EXISTS tenants_auditevent_no_update ON tenants_auditevent;
DROP FUNCTION IF EXISTS tenants_auditevent_immutable();
"""


def seed_plans(apps, schema_editor):
    Plan = apps.get_model("tenants", "Plan")
    for name, title, cr, cl, mr, ml, st, rep, pods, conns, order in PLANS:
        Plan.objects.get_or_create(
            name=name,
            defaults=dict(
                title=title,
                cpu_request_millicores=cr,
                cpu_limit_millicores=cl,
                memory_request_mib=mr,
                memory_limit_mib=ml,
                storage_gib=st,
                replicas=rep,
                max_pods=pods,
                max_db_connections=conns,
                sort_order=order,
            ),
        )


def guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(GUARD_SQL)


def unguard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNGUARD_SQL)


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [
        migrations.RunPython(seed_plans, migrations.RunPython.noop),
        migrations.RunPython(guard, unguard),
    ]
