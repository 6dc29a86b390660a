"""The usage rule: the next larger plan at once when the measured use shows the need."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from provisioning.models import Run
from provisioning.podmetrics import NOT_SERVED
from tenants import plan_change
from tenants.models import AuditEvent, Tenant, UsageSample
from tests.factories import TenantFactory, plan

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action


def sampled(tenant, *, hours: int, cpu: float, memory: float = 0.3, on=None) -> None:
    """A sample an hour for the last `hours` hours, CPU and memory at those shares of the quota."""
    now = timezone.now()
    UsageSample.objects.bulk_create(
        UsageSample(
            tenant=tenant,
            plan=on or tenant.plan,
            taken_at=now - timedelta(hours=h, minutes=1),
            used={"cpu": int(cpu * 2000), "memory": int(memory * 2**30), "pods": 2, "storage": 1},
            hard={"cpu": 2000, "memory": 2**30, "pods": 10, "storage": 1},
        )
        for h in range(hours)
    )


def ask(client, tenant, name: str):
    return client.post(reverse("tenants:plan", args=[tenant.pk]), {"plan": plan(name).pk})


def test_use_above_the_threshold_for_two_weeks_moves_one_step_at_once_audited(
    client, requester, medium
):
    sampled(medium, hours=14 * 24, cpu=0.9)
    client.force_login(requester)
    answer = ask(client, medium, "large")
    assert answer.status_code == 302
    medium.refresh_from_db()
    assert medium.plan.name == "large" and medium.requested_plan is None
    assert Run.objects.filter(tenant=medium, reason="plan change").exists()
    event = AuditEvent.objects.get(action=Action.TENANT_PLAN_CHANGED)
    assert event.actor == requester and event.after["approved_by"] == "usage rule"
    assert event.before["plan"] == "medium" and event.after["plan"] == "large"
    assert event.after["evidence"]["met"] and event.after["evidence"]["coverage_percent"] >= 99
    assert event.message == (
        "Approved by the usage rule. Met: CPU requests at 90 % average over 14 days, at or above "
        "85 %."
    )
    assert not AuditEvent.objects.filter(action=Action.TENANT_PLAN_REQUESTED).exists()
    page = client.get(medium.get_absolute_url()).content.decode()
    assert 'id="plan-rule-applied"' in page and "Large approved by the usage rule" in page


def test_use_below_the_threshold_stays_a_request_that_shows_why(
    client, requester, approver, medium
):
    sampled(medium, hours=14 * 24, cpu=0.62, memory=0.4)
    client.force_login(requester)
    ask(client, medium, "large")
    medium.refresh_from_db()
    assert medium.plan.name == "medium" and medium.requested_plan.name == "large"
    why = "Not met: CPU requests at 62 % average over 14 days (the highest), below 85 %."
    assert medium.plan_evidence["verdict"] == why
    event = AuditEvent.objects.get(action=Action.TENANT_PLAN_REQUESTED)
    assert event.message == why and event.after["evidence"]["met"] is False
    assert not Run.objects.filter(tenant=medium).exists()
    page = client.get(medium.get_absolute_url()).content.decode()
    assert escape(why) in page and "memory requests: 40 % on average" in page

    client.force_login(approver)
    page = client.get(reverse("tenants:plan", args=[medium.pk])).content.decode()
    assert 'id="plan-evidence"' in page and escape(why) in page
    assert "Usage rule:</strong> Not met:" in page and "not met. Not met" not in page
    assert 'id="btn-plan-approve"' in page


def test_two_steps_up_is_never_by_the_rule(client, requester):
    small = TenantFactory(owner=requester, state=Tenant.State.READY, plan=plan("small"))
    sampled(small, hours=14 * 24, cpu=0.99)
    client.force_login(requester)
    ask(client, small, "large")
    small.refresh_from_db()
    assert small.plan.name == "small" and small.requested_plan.name == "large"
    assert small.plan_evidence["verdict"] == (
        "Not met: Large is 2 plan steps above Small; the rule moves a tenant one step only, "
        "to Medium."
    )
    assert "CPU requests: 99 % on average" in " ".join(small.plan_evidence["measures"])


def test_too_few_days_of_samples_stays_a_request(client, requester, medium):
    sampled(medium, hours=3 * 24, cpu=0.99)
    client.force_login(requester)
    ask(client, medium, "large")
    medium.refresh_from_db()
    assert medium.requested_plan.name == "large"
    assert medium.plan_evidence["verdict"] == (
        "Not met: only 3 days of samples on Medium in the last 14 (21 % of the window); "
        "the rule needs 90 %."
    )


def test_samples_of_the_previous_plan_do_not_count(client, requester, medium):
    sampled(medium, hours=14 * 24, cpu=0.99, on=plan("small"))
    client.force_login(requester)
    ask(client, medium, "large")
    medium.refresh_from_db()
    assert medium.requested_plan.name == "large"
    assert medium.plan_evidence["verdict"].startswith("Not met: only 0 days of samples")


def test_the_rule_follows_its_settings(settings, requester, medium):
    settings.PORTAL_UPSIZE_RULE_THRESHOLD = 60
    settings.PORTAL_UPSIZE_RULE_WINDOW_DAYS = 3
    sampled(medium, hours=3 * 24, cpu=0.62)
    outcome = plan_change.tenant_change_plan(tenant=medium, actor=requester, plan=plan("large"))
    assert outcome == plan_change.RULE_APPLIED
    medium.refresh_from_db()
    assert medium.plan.name == "large"
    assert "over the last 3 days" in medium.plan_evidence["rule"]


def test_met_but_no_room_in_the_cluster_stays_a_request(settings, requester, medium):
    settings.PORTAL_CLUSTER_CPU_MILLICORES = 2000
    sampled(medium, hours=14 * 24, cpu=0.95)
    outcome = plan_change.tenant_change_plan(tenant=medium, actor=requester, plan=plan("large"))
    assert outcome == plan_change.REQUESTED
    medium.refresh_from_db()
    assert medium.plan.name == "medium" and medium.plan_evidence["met"] is True
    assert "Still a request: The cluster has no room for Large" in medium.plan_evidence["verdict"]


def sampled_use(tenant, *, hours: int, cpu: float, note: str = "") -> None:
    """Samples with real use (the Metrics API) at that share of the plan's CPU limits, the
    quota's requests at a steady 50 %; or, with a note, without real use."""
    now = timezone.now()
    UsageSample.objects.bulk_create(
        UsageSample(
            tenant=tenant,
            plan=tenant.plan,
            taken_at=now - timedelta(hours=h, minutes=1),
            used={"cpu": 1000, **({} if note else {"cpu_use": int(cpu * 1500)})},
            hard={"cpu": 2000, **({} if note else {"cpu_use": 1500})},
            use_note=note,
        )
        for h in range(hours)
    )


def test_real_use_above_the_threshold_moves_one_step_and_the_page_names_the_measure(
    client, requester, medium
):
    sampled_use(medium, hours=14 * 24, cpu=0.9)
    client.force_login(requester)
    assert ask(client, medium, "large").status_code == 302
    medium.refresh_from_db()
    assert medium.plan.name == "large"
    event = AuditEvent.objects.get(action=Action.TENANT_PLAN_CHANGED)
    evidence = event.after["evidence"]
    assert evidence["measure"] == "use"
    assert evidence["measured_by"].startswith("Measured by real use")
    assert event.message == (
        "Approved by the usage rule. Met: CPU use at 90 % average over 14 days, at or above 85 %."
    )
    assert (
        "CPU requests: 50 % on average, 50 % at most (not counted: real use is measured)"
        in (evidence["measures"])
    )


def test_real_use_at_40_percent_is_not_met_though_the_requests_stand_higher(
    client, requester, medium
):
    sampled_use(medium, hours=14 * 24, cpu=0.4)
    client.force_login(requester)
    ask(client, medium, "large")
    medium.refresh_from_db()
    assert medium.plan.name == "medium" and medium.requested_plan.name == "large"
    assert medium.plan_evidence["verdict"] == (
        "Not met: CPU use at 40 % average over 14 days (the highest), below 85 %."
    )
    page = client.get(medium.get_absolute_url()).content.decode()
    assert 'id="plan-measure"' in page and "Measured by real use" in page


def test_without_the_metrics_api_the_requests_stand_in_and_the_evidence_says_so(
    client, requester, medium
):
    note = NOT_SERVED
    sampled_use(medium, hours=14 * 24, cpu=0, note=note)
    client.force_login(requester)
    ask(client, medium, "large")
    medium.refresh_from_db()
    evidence = medium.plan_evidence
    assert evidence["measure"] == "requests"
    assert evidence["measured_by"].startswith("Measured by the quota's requests")
    assert note in evidence["measured_by"]
    assert evidence["verdict"].startswith("Not met: CPU requests at 50 % average")
    page = client.get(medium.get_absolute_url()).content.decode()
    assert escape(evidence["measured_by"]) in page
