"""Mark a tenant's existing database, user and S3 user as the tenant's, so the steps adopt them."""

from django.core.management.base import CommandError

from portal import requestcontext
from portal.commands import PortalCommand
from provisioning import drivers
from provisioning.cli import confirm_slug, tenant_by_slug
from provisioning.errors import StepFailed, TransientError
from provisioning.spec import spec_for
from provisioning.steps.base import StepContext
from provisioning.steps.database import DatabaseStep
from provisioning.steps.storage import StorageStep
from tenants.audit import audit_record
from tenants.models import AuditEvent, Tenant

ADOPTING = (DatabaseStep, StorageStep)


class Command(PortalCommand):
    help = (
        "Adopt what already exists under a tenant's names but lacks its marker (made by a portal "
        "before markers, or by hand for this tenant): the MariaDB database and user get the "
        "registry row, the IAM user its tag, the IONOS user its names. The steps touch nothing "
        "unmarked; this is how a human says it is the tenant's. Another tenant's is refused."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")
        parser.add_argument(
            "--yes", action="store_true", help="don't ask for the slug again (for scripts)"
        )

    def handle(self, *args, slug: str, yes: bool = False, **options):
        tenant = tenant_by_slug(slug)
        if tenant.state not in Tenant.LIVE_STATES:
            raise CommandError(f"{tenant.slug} is {tenant.state_label}: nothing to adopt.")
        spec = spec_for(tenant)
        steps = [
            cls(StepContext(spec=spec, secrets=drivers.secret_store(spec))) for cls in ADOPTING
        ]
        found = self._adopt(tenant, steps, dry_run=True)
        if not found:
            self.stdout.write(f"{tenant.slug}: nothing unmarked to adopt.")
            return
        for what in found:
            self.stdout.write(f"  {what}")
        if not yes:
            # From now on the portal may reset, re-grant and at deletion drop these: a human
            # says so.
            confirm_slug(
                tenant.slug,
                out=self.stdout,
                warning=f"The portal will manage and, when {tenant.slug} is deleted, delete these.",
                refused="Nothing adopted",
            )
        with requestcontext.operator():
            marked = self._adopt(tenant, steps, dry_run=False)
            audit_record(
                action=AuditEvent.Action.TENANT_ADOPTED,
                obj=tenant,
                after={"adopted": marked},
                message=f"Marked as the tenant's: {', '.join(marked)}",
            )
        self.stdout.write(f"{tenant.slug}: adopted {', '.join(marked)}.")

    def _adopt(self, tenant, steps, dry_run: bool) -> list[str]:
        out = []
        for step in steps:
            try:
                out += step.adopt(dry_run=dry_run)
            except (StepFailed, TransientError) as exc:
                raise CommandError(f"{tenant.slug}: {exc}") from exc
        return out
