"""Print exactly what provisioning would apply for a tenant, secrets as <generated>."""

from django.core.management.base import BaseCommand

from provisioning.cli import reader_may_leave, tenant_by_slug
from provisioning.secrets import PlanSecrets
from provisioning.spec import spec_for
from provisioning.steps import step_classes
from provisioning.steps.base import StepContext


class Command(BaseCommand):
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
                self.stdout.write(step.render().rstrip("\n"))
