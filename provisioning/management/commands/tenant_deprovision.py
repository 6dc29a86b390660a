"""Tear a tenant down: every step's resource, in reverse order."""

from django.core.management.base import BaseCommand, CommandError

from portal import requestcontext
from portal.errors import ApplicationError
from provisioning.cli import finish, tenant_by_slug
from tenants import services


class Command(BaseCommand):
    help = "Delete a tenant: queue its deprovisioning (or run it here with --wait)."

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument(
            "--wait", action="store_true", help="run the engine in this process until done"
        )
        parser.add_argument("--timeout", type=float, default=900.0)

    def handle(self, *args, slug: str, wait=False, timeout=900.0, **options):
        tenant = tenant_by_slug(slug)
        with requestcontext.operator():
            try:
                services.tenant_delete(tenant=tenant, actor=None)
            except ApplicationError as exc:
                raise CommandError(f"{tenant.slug}: {exc.message}") from exc
            self.stdout.write(f"{tenant.slug}: deletion queued")
            finish(tenant, wait=wait, timeout=timeout, write=self.stdout.write)
