"""Tear a tenant down: every step's resource, in reverse order."""

from django.core.management.base import CommandError

from portal import requestcontext
from portal.commands import PortalCommand
from portal.errors import ApplicationError
from provisioning.cli import WAIT_HELP, confirm_slug, finish, follow_purge, seconds, tenant_by_slug
from tenants import services
from tenants.models import Tenant


class Command(PortalCommand):
    help = (
        "Delete a tenant: queue its final backup (a built one) and deprovisioning, and with "
        "--wait follow them."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument(
            "--wait",
            action="store_true",
            help=WAIT_HELP,
        )
        parser.add_argument(
            "--timeout", type=seconds, default=900.0, help="seconds to follow it (900)"
        )
        parser.add_argument(
            "--yes", action="store_true", help="don't ask for the slug again (for scripts)"
        )

    def handle(self, *args, slug: str, wait=False, timeout=900.0, yes=False, **options):
        tenant = tenant_by_slug(slug)
        if not yes:
            # Deleting removes the site, its database and its files: the slug typed twice.
            confirm_slug(
                tenant.slug,
                out=self.stdout,
                warning=(
                    f"This deletes {tenant.slug}: its site, database, files and sign-in client."
                ),
                refused="Not deleted",
            )
        with requestcontext.operator():
            try:
                # The operator typed the slug again: no grace period at the command line (the
                # final backup all the same, by a worker's purge).
                tenant = services.tenant_delete(tenant=tenant, actor=None, now=True)
            except ApplicationError as exc:
                if not (wait and tenant.state == Tenant.State.DELETING):
                    raise CommandError(f"{tenant.slug}: {exc.message}") from exc
                # Its teardown is under way (an earlier --wait gave up, a purge took it): the
                # operator asking again with --wait wants to see it end.
                self.stdout.write(f"{tenant.slug}: being torn down already; following it")
                finish(tenant, wait=True, timeout=timeout, write=self.stdout.write)
                return
            saving = tenant.desired_present  # suspended until its final backup is taken
            if saving:
                self.stdout.write(f"{tenant.slug}: final backup queued; the teardown follows it")
            else:
                self.stdout.write(f"{tenant.slug}: deletion queued")
            if wait and saving:
                timeout = follow_purge(tenant, timeout=timeout, write=self.stdout.write)
            finish(tenant, wait=wait, timeout=timeout, write=self.stdout.write)
