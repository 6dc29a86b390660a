"""Give a tenant's database user a new password, keep it in the Secret, restart WordPress."""

from django.core.management.base import CommandError

from portal import requestcontext
from portal.commands import PortalCommand
from provisioning import drivers
from provisioning.cli import tenant_by_slug
from provisioning.drivers.kubernetes import restart_workload
from provisioning.errors import StepFailed, TransientError
from provisioning.locks import holder_name, lock_acquire, lock_release
from provisioning.spec import spec_for
from provisioning.steps.base import StepContext
from provisioning.steps.database import DatabaseStep
from tenants.audit import audit_record
from tenants.models import AuditEvent, Tenant


class Command(PortalCommand):
    help = (
        "Rotate a tenant's MariaDB password: a new one is stored in the tenant's Secret, set on "
        "its database user, and WordPress is restarted to pick it up. The password is never shown."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug")

    def handle(self, *args, slug: str, **options):
        tenant = tenant_by_slug(slug)
        if tenant.state != Tenant.State.READY:
            raise CommandError(f"{tenant.slug} is {tenant.state_label}; only ready tenants.")
        spec = spec_for(tenant)
        step = DatabaseStep(StepContext(spec=spec, secrets=drivers.secret_store(spec)))
        holder = holder_name()
        # The engine's lock: no reconcile may write the Secret or restart WordPress meanwhile.
        if not lock_acquire(tenant_id=tenant.pk, holder=holder):
            raise CommandError(f"{tenant.slug} is being reconciled right now; try again shortly.")
        try:
            with requestcontext.operator():
                try:
                    step.rotate_password()
                except (StepFailed, TransientError) as exc:
                    raise CommandError(
                        f"{tenant.slug}: the password was not rotated: {exc}"
                    ) from exc
                restarted, problem = self._restart(spec)
                outcome = (
                    "WordPress restarted." if restarted else f"WordPress not restarted: {problem}"
                )
                audit_record(
                    action=AuditEvent.Action.TENANT_DB_PASSWORD_ROTATED,
                    obj=tenant,
                    after={"database_user": spec.db_user, "wordpress_restarted": restarted},
                    message=f"New password for {spec.db_user} in the tenant's Secret; {outcome}",
                )
        finally:
            lock_release(tenant_id=tenant.pk, holder=holder)
        if problem and restarted is None:
            raise CommandError(
                f"{tenant.slug}: the password was rotated but WordPress could not be restarted "
                f"({problem}); it can't reach its database until it is. Run tenant_reconcile."
            )
        self.stdout.write(
            f"{tenant.slug}: database password rotated; "
            + ("WordPress restarted." if restarted else f"{problem}.")
        )

    def _restart(self, spec) -> tuple[bool | None, str]:
        """(True, "") restarted; (False, why) nothing to restart; (None, why) it failed."""
        try:
            if restart_workload(spec):
                return True, ""
            return False, "no WordPress Deployment to restart yet"
        except (StepFailed, TransientError) as exc:
            return None, str(exc)
