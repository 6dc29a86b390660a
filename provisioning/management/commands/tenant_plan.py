"""Print exactly what provisioning would apply for a tenant, secrets as <generated>."""

from django.core.management.base import CommandError

from portal.commands import PortalCommand
from provisioning.cli import reader_may_leave, tenant_by_slug
from provisioning.errors import StepFailed, TransientError
from provisioning.secrets import PlanSecrets
from provisioning.spec import spec_for
from provisioning.steps import step_classes
from provisioning.steps.base import StepContext


class Command(PortalCommand):
    help = "Print what each provisioning step would apply for the tenant (nothing is changed)."

    def add_arguments(self, parser):
        parser.add_argument("slug")

    def handle(self, *args, slug: str, **options):
        tenant = tenant_by_slug(slug)
        ctx = StepContext(spec=spec_for(tenant), secrets=PlanSecrets())
        with reader_may_leave():
            for cls in step_classes():
                step = cls(ctx)
                self.stdout.write(f"# --- step {step.name}: {step.plan_file.name}")
                try:
                    # A step's plan may read the live object (the volume's size it keeps).
                    rendered = step.render()
                except (StepFailed, TransientError) as exc:
                    raise CommandError(
                        f"{tenant.slug}: no plan for step {step.name}: {exc}"
                    ) from exc
                self.stdout.write(rendered.rstrip("\n"))
