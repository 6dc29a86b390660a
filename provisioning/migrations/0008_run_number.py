"""Runs numbered per tenant, the numbers of the runs already there counted in their order."""

from django.db import migrations, models
from django.db.models import F, Window
from django.db.models.functions import RowNumber


def number_runs(apps, schema_editor):
    Run = apps.get_model("provisioning", "Run")
    numbered = Run.objects.annotate(
        n=Window(RowNumber(), partition_by=[F("tenant_id")], order_by=F("id").asc())
    ).values_list("id", "n")
    batch = []
    for pk, n in numbered.iterator(chunk_size=2000):
        batch.append(Run(pk=pk, number=n))
        if len(batch) == 2000:
            Run.objects.bulk_update(batch, ["number"])
            batch = []
    Run.objects.bulk_update(batch, ["number"])


class Migration(migrations.Migration):
    dependencies = [
        ("provisioning", "0007_steprun_checks"),
    ]

    operations = [
        migrations.AddField(
            model_name="run",
            name="number",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(number_runs, migrations.RunPython.noop),
    ]
