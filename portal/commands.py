"""The base of the portal's management commands: a database that fails is a sentence."""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.utils import InterfaceError, OperationalError, ProgrammingError

from portal.logs import mask_secrets


def database_named() -> str:
    """Which database the settings point at, as an operator checks it (never the password)."""
    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"SQLite {conf['NAME']}"
    where = f"{conf.get('HOST') or 'localhost'}:{conf.get('PORT') or 'default port'}"
    return f"{connection.display_name} {conf['NAME']} at {where}"


class PortalCommand(BaseCommand):
    """A BaseCommand whose database errors (a server that is down, refuses the password, a
    database not migrated) end as a CommandError naming the database, not as a driver's traceback:
    the operator learns what to check, and `--traceback` still shows the cause."""

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except (OperationalError, InterfaceError, ProgrammingError) as exc:
            # The first line: psycopg's further ones are a hint or the statement's text.
            reason = mask_secrets(str(exc).strip().splitlines()[0].rstrip(".?"))
            raise CommandError(
                f"The portal's database ({database_named()}) failed: {reason}. Check "
                "DATABASE_URL, that the server answers and that `manage.py migrate` ran."
            ) from exc
