"""factory_boy factories for users, plans and tenants."""

import importlib

import factory
from django.apps import apps as django_apps
from django.contrib.auth import get_user_model

from portal.roles import Role, user_set_role
from tenants.models import Plan, Tenant


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-only")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        self.save()
        if extracted:
            user_set_role(user=self, role=Role(extracted))


def plan(name: str = "small") -> Plan:
    """A seeded plan; seeded again where a transactional test's flush removed them."""
    if not Plan.objects.filter(name=name).exists():
        seed = importlib.import_module("tenants.migrations.0002_seed_plans_and_audit_guard")
        seed.seed_plans(django_apps, None)
    return Plan.objects.get(name=name)


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"site{n:03d}")
    display_name = factory.LazyAttribute(lambda t: f"Site {t.slug}")
    plan = factory.LazyFunction(plan)
    wordpress_version = "6.8"
    admin_email = "owner@example.com"
    host = factory.LazyAttribute(lambda t: f"wordpress-{t.slug}.local")
    owner = factory.SubFactory(UserFactory)


def request_form_data(**overrides) -> dict:
    """What a requester types into the request form; a None override leaves the field out."""
    data = {
        "slug": "myblog",
        "display_name": "My blog",
        "plan": plan("small").pk,
        "wordpress_version": "6.8",
        "admin_email": "me@example.com",
        "host": "",
        **overrides,
    }
    return {k: v for k, v in data.items() if v is not None}


def run_ended_by_outage(tenant, *, since, minutes_ago: float, system: str = "Kubernetes"):
    """A finished run of the tenant whose namespace step spent its retry budget, from `since`,
    on `system` being away (provisioning.waiting reads it as the tenant waiting)."""
    from datetime import timedelta

    from django.utils import timezone

    from provisioning.models import Run, StepRun

    finished = timezone.now() - timedelta(minutes=minutes_ago)
    run = Run.objects.create(
        tenant=tenant, action=Run.Action.APPLY, reason="approved", status=Run.Status.FAILED,
        outage=system, started_at=since, finished_at=finished,
        error=f"The namespace step failed: {system} did not answer (gave up after 9 attempts)",
    )  # fmt: skip
    Run.objects.filter(pk=run.pk).update(created_at=finished - timedelta(minutes=30))
    StepRun.objects.create(
        run=run, name="namespace", position=0, status=StepRun.Status.FAILED,
        failing_since=since, attempts=9,
    )  # fmt: skip
    return run
