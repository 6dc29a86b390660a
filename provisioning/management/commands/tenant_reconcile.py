"""Queue (or, with --wait, run here) a reconcile of one tenant, of all, or of the outdated."""

from django.core.management.base import CommandError

from portal import requestcontext
from portal.commands import PortalCommand
from portal.errors import ApplicationError
from provisioning import rollout
from provisioning.cli import WAIT_HELP, finish, seconds, tenant_by_slug
from tenants import services
from tenants.models import Tenant


class Command(PortalCommand):
    help = "Converge a tenant (or --all ready and failed tenants) with what the portal wants."

    def add_arguments(self, parser):
        parser.add_argument("slug", nargs="?")
        parser.add_argument("--all", action="store_true", help="every ready or failed tenant")
        parser.add_argument(
            "--outdated",
            action="store_true",
            help="every ready or failed tenant last built from another tenant image "
            "(PORTAL_WORDPRESS_IMAGE, PORTAL_PLUGINS_LOCK): beat's init container runs it",
        )
        parser.add_argument(
            "--wait",
            action="store_true",
            help=WAIT_HELP,
        )
        parser.add_argument(
            "--timeout", type=seconds, default=900.0, help="seconds to follow it (900)"
        )

    def handle(
        self, *args, slug=None, all=False, outdated=False, wait=False, timeout=900.0, **options
    ):
        if sum((bool(slug), all, outdated)) != 1:
            raise CommandError("Name one tenant, or pass --all or --outdated.")
        if outdated:
            return self._outdated()
        if all:
            tenants = list(
                Tenant.objects.filter(
                    state__in=[Tenant.State.READY, Tenant.State.FAILED], desired_present=True
                ).select_related("plan", "owner")
            )
        else:
            tenants = [tenant_by_slug(slug)]
        failed = []
        with requestcontext.operator():
            for tenant in tenants:
                # As it is now: with --wait the tenants before it took minutes, and one may
                # have been deleted or suspended meanwhile.
                tenant.refresh_from_db()
                try:
                    services.tenant_reconcile(tenant=tenant, actor=None, reason="manual")
                except ApplicationError as exc:
                    if not all:
                        raise CommandError(f"{tenant.slug}: {exc.message}") from exc
                    self.stdout.write(f"{tenant.slug}: not reconciled: {exc.message}")
                    continue  # changed since the list was read: not a failure of the run
                self.stdout.write(f"{tenant.slug}: reconcile queued")
                try:
                    finish(tenant, wait=wait, timeout=timeout, write=self.stdout.write)
                except CommandError:
                    if not all:
                        raise
                    failed.append(tenant.slug)  # --all goes on with the others, then says so
        if failed:
            raise CommandError(f"{len(failed)} tenant(s) failed: {', '.join(failed)}.")

    def _outdated(self) -> None:
        with requestcontext.operator():
            queued, moved = rollout.tenant_image_rollout()
        for tenant in queued:
            self.stdout.write(f"{tenant.slug}: reconcile queued (built from another image)")
        for slug in moved:
            self.stdout.write(f"{slug}: changed meanwhile; its own run builds the new image")
        if not queued and not moved:
            self.stdout.write("Every tenant is built from the current tenant image.")
