"""Check the audit trail's hash chain and name the first broken link."""

from django.core.management.base import CommandError

from portal.commands import PortalCommand
from tenants.audit import audit_verify


class Command(PortalCommand):
    help = "Verify the audit events' hash chain, oldest first; exit 1 at the first broken link."

    def handle(self, *args, **options) -> None:
        checked, broken = audit_verify()
        if broken is not None:
            self.stdout.write(f"Checked {checked} audit events before the break.")
            raise CommandError(
                f"The audit chain is broken at event {broken.event_id}: {broken.reason}."
            )
        self.stdout.write(
            self.style.SUCCESS(f"Checked {checked} audit events: the chain is intact.")
        )
