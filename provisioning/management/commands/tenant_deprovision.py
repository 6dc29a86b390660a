"""Tear a tenant down: every step's resource, in reverse order."""

import sys

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
            "--wait",
            action="store_true",
            help="follow the run until it ends (the workers do the work)",
        )
        parser.add_argument("--timeout", type=float, default=900.0)
        parser.add_argument(
            "--yes", action="store_true", help="don't ask for the slug again (for scripts)"
        )

    def handle(self, *args, slug: str, wait=False, timeout=900.0, yes=False, **options):
        tenant = tenant_by_slug(slug)
        if not yes:
            self._confirm(tenant.slug)
        with requestcontext.operator():
            try:
                # The operator typed the slug again: no grace period at the command line.
                services.tenant_delete(tenant=tenant, actor=None, now=True)
            except ApplicationError as exc:
                raise CommandError(f"{tenant.slug}: {exc.message}") from exc
            self.stdout.write(f"{tenant.slug}: deletion queued")
            finish(tenant, wait=wait, timeout=timeout, write=self.stdout.write)

    def _confirm(self, slug: str) -> None:
        # Deleting removes the site, its database and its files: a typo in a history-recalled
        # command must not be enough, so the slug is typed a second time.
        self.stdout.write(f"This deletes {slug}: its site, database, files and sign-in client.")
        self.stdout.write("Type the slug again to go on: ", ending="")
        self.stdout.flush()
        answer = sys.stdin.readline().strip()
        if answer != slug:
            raise CommandError(
                f"Not deleted: “{answer}” is not “{slug}”. (Scripts that mean it pass --yes.)"
                if answer
                else f"Not deleted: no confirmation read. Type “{slug}” when asked, or pass --yes."
            )
