"""The database cache's table: the embedded default's cache shared by every process."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    # Makes the table of each database cache in CACHES (none when the cache is Redis); a
    # deployment moving from Redis to the database runs `manage.py createcachetable`.
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = []
    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
