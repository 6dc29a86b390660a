"""Run numbers unique per tenant; runs that shared one first take new ones, in created order."""

from django.conf import settings
from django.db import migrations, models
from django.db.models import Count, Max


def renumber_shared(apps, schema_editor):
    """The first run made with a number keeps it; each later one with that number takes the
    tenant's next, in the order they were made. Every number that named one run still does."""
    Run = apps.get_model("provisioning", "Run")
    shared = (
        Run.objects.filter(number__gt=0)
        .values("tenant_id", "number")
        .annotate(runs=Count("id"))
        .filter(runs__gt=1)
        .order_by()
    )
    for tenant_id in sorted({row["tenant_id"] for row in shared}):
        runs = Run.objects.filter(tenant_id=tenant_id)
        top = runs.aggregate(top=Max("number"))["top"]
        seen, moved = set(), []
        for run in runs.filter(number__gt=0).order_by("created_at", "id").only("number"):
            if run.number in seen:
                top += 1
                run.number = top
                moved.append(run)
            seen.add(run.number)
        Run.objects.bulk_update(moved, ["number"], batch_size=2000)


class Migration(migrations.Migration):
    dependencies = [
        ("provisioning", "0008_run_number"),
        ("tenants", "0036_audit_chain_function"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(renumber_shared, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="run",
            constraint=models.UniqueConstraint(
                condition=models.Q(("number__gt", 0)),
                fields=("tenant", "number"),
                name="run_number_unique_per_tenant",
            ),
        ),
    ]
