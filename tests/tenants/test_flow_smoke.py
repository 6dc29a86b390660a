"""Request → approve → provisioned (plan mode, eager Celery) through the services."""

from provisioning.models import StepRun
from tenants import services
from tenants.models import AuditEvent, Tenant
from tests.factories import plan


def test_request_approve_provision_in_plan_mode(
    requester, approver, eager_celery, django_capture_on_commit_callbacks, settings
):
    with django_capture_on_commit_callbacks(execute=True):
        tenant = services.tenant_request_submit(
            owner=requester,
            slug="Shop",
            display_name="My shop",
            plan=plan("small"),
            wordpress_version="6.8",
            admin_email="a@example.com",
        )
    assert tenant.slug == "shop" and tenant.host == "wordpress-shop.local"
    with django_capture_on_commit_callbacks(execute=True):
        services.tenant_approve(tenant_id=tenant.pk, actor=approver)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.READY, tenant.last_error
    run = tenant.runs.get()
    assert [s.status for s in run.steps.order_by("position")] == [StepRun.Status.PLANNED] * len(
        settings.PORTAL_STEPS
    )
    assert list((settings.PORTAL_PLAN_DIR / "shop").glob("namespace.*"))
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == [
        "tenant.requested",
        "tenant.approved",
        "tenant.provisioning",
        "tenant.ready",
    ]
