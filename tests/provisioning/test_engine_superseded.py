"""A run superseded by a deletion while one of its steps is under way stays superseded: the
step's retry, wait or failure neither revives it nor marks the tenant being deleted failed."""

import pytest

from provisioning import engine
from provisioning.errors import StepFailed, TransientError
from provisioning.models import Run
from provisioning.steps.base import Outcome, Step
from tenants import services
from tenants.models import AuditEvent, Tenant
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db

# What the step does once the deletion was asked for; and how often it was applied.
THEN: list = []
APPLIED: list[str] = []


class DeletedMidwayStep(Step):
    """Applying it takes long enough for the owner to ask for deletion meanwhile."""

    name = "midway"
    plan_suffix = "txt"

    def make_driver(self):
        return self  # configured: never plan mode

    def live_check(self) -> list[str]:
        return ["missing"]

    def live_apply(self) -> Outcome:
        APPLIED.append("apply")
        tenant = Tenant.objects.select_related("plan", "owner").get(slug="midway")
        if tenant.desired_present:
            services.tenant_delete(tenant=tenant, actor=tenant.owner)
        item = THEN.pop(0) if THEN else Outcome.done("made")
        if isinstance(item, Exception):
            raise item
        return item

    def live_destroy(self) -> Outcome:
        return Outcome.done("removed")


@pytest.fixture(autouse=True)
def one_step(settings):
    settings.PORTAL_STEPS = [f"{__name__}.DeletedMidwayStep"]
    THEN.clear()
    APPLIED.clear()


@pytest.mark.parametrize(
    "then",
    [
        TransientError("API answered 503"),
        Outcome.waiting("rollout 0 of 1 pods"),
        StepFailed("the API refused the object"),
    ],
    ids=["transient", "waiting", "failed"],
)
def test_a_deletion_during_a_step_wins(
    requester, approver, then, django_capture_on_commit_callbacks
):
    tenant = TenantFactory(owner=requester, slug="midway")
    with django_capture_on_commit_callbacks(execute=False):
        services.tenant_approve(tenant_id=tenant.pk, actor=approver)
        THEN.append(then)
        engine.reconcile(tenant.pk)
        apply_run = tenant.runs.get(action=Run.Action.APPLY)
        assert apply_run.status == Run.Status.CANCELLED
        tenant.refresh_from_db()
        assert tenant.state == Tenant.State.DELETING, tenant.last_error

        for _ in range(5):
            Run.objects.filter(tenant=tenant).update(not_before=None)
            if engine.reconcile(tenant.pk) is None:
                break
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.DELETED
    assert APPLIED == ["apply"], "nothing was built after the deletion was asked for"
    actions = set(
        AuditEvent.objects.filter(object_id=str(tenant.pk)).values_list("action", flat=True)
    )
    assert AuditEvent.Action.TENANT_FAILED not in actions
