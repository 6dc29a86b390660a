"""Account mails sent, by the key each was queued with (portal.models.AccountMailSent)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("portal", "0001_cache_table"),
    ]

    operations = [
        migrations.CreateModel(
            name="AccountMailSent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.UUIDField(unique=True)),
                ("sent_at", models.DateTimeField(auto_now_add=True, db_index=True)),
            ],
        ),
    ]
