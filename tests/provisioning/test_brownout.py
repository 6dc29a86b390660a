"""Brownout drill: twenty tenants on real Celery workers ride out flaky Kubernetes, two outages."""

import os
import time
from collections import Counter

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from provisioning.models import Run, StepRun
from provisioning.secrets import OIDC_CLIENT_ID
from provisioning.waiting import tenant_waiting
from tenants import services
from tenants.models import AuditEvent, Tenant
from tests.provisioning.cluster import providers, tenant_secret
from tests.provisioning.drills import approve, report, wait_all
from tests.workers import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Twenty, as the issue asks (passed in 70-95 s beside other suites and three CPU burners);
# PORTAL_BROWNOUT_TENANTS sets another count. A fifth of Kubernetes' answers are 500, 429 or
# slow, and Authentik and then Kubernetes go away past a step's retry budget: every tenant
# waits for the system that is down (page, admin, API), the sweep tries again, and once both
# are back all end ready, none failed, nothing made twice, nothing lost.
TENANTS = int(os.environ.get("PORTAL_BROWNOUT_TENANTS", "20"))
TIMEOUT = 300
STEPS = ",".join(
    f"provisioning.steps.{step}"
    for step in ("namespace.NamespaceStep", "network.NetworkStep", "sso.SsoStep")
)
# The drill's clocks: a request rides out 1 s of errors, a step 3 s, then its run ends waiting
# for the system; the beat's sweep comes every 2 s and tries again after 3 s, doubled each time.
CLOCKS = {
    "PORTAL_STEPS": STEPS,
    "PORTAL_REQUEST_RETRY_BUDGET": "1",
    "PORTAL_STEP_RETRY_BUDGET": "3",
    "PORTAL_OUTAGE_RETRY_DELAY": "3",
    "PORTAL_SWEEP_INTERVAL": "2",
}


def _not_waiting_for(system: str, tenant) -> str:
    """Why the tenant doesn't wait for the system, in a line; empty when it does."""
    held = tenant_waiting(tenant)
    if held and held.system == system:
        return ""
    now = timezone.now()
    if held is None:
        why = f"{tenant.state}, waiting for nothing"
    else:
        why = f"still waiting for {held.system} ({held.runs} runs in a row, "
        if held.retry_at is None:
            why += "a try under way)"
        else:
            why += f"next try in {(held.retry_at - now).total_seconds():.0f}s)"
    run = tenant.runs.exclude(reason="drift").order_by("-created_at", "-id").first()
    if run and run.is_open:
        why += f"; open run {run.status} since {(now - run.created_at).total_seconds():.0f}s"
        why += f": {run.message or 'no message'}"
    return f"{tenant.slug}: {why}"


def _ready_from_a_run_begun_before(tenant, switched) -> bool:
    return (
        tenant.state == Tenant.State.READY
        and tenant.runs.filter(status=Run.Status.SUCCEEDED, created_at__lt=switched)
        .exclude(reason="drift")
        .exists()
    )


def _wait_until_all_wait_for(system: str, tenants, platform, kube_api, switched=None):
    """Seconds until every tenant waits for the system, and the tenants that instead ended
    ready from a run begun before `switched` (the moment the outages changed over): one already
    past its Kubernetes steps, riding out Authentik's outage in its sso step, when Authentik came
    back needs Kubernetes no more."""
    started = time.monotonic()
    outliers, finished = [], []

    def all_waiting():
        kube_api.mark_ready()
        for tenant in tenants:
            tenant.refresh_from_db()
        assert not [t.slug for t in tenants if t.state == Tenant.State.FAILED], "none fails"
        finished[:] = [
            t for t in tenants if switched and _ready_from_a_run_begun_before(t, switched)
        ]
        outliers[:] = [
            line for t in tenants if t not in finished and (line := _not_waiting_for(system, t))
        ]
        return not outliers

    def explained():
        return "\n".join([f"{len(outliers)} not waiting for {system}:", *outliers, platform.logs()])

    wait_until(all_waiting, TIMEOUT, f"every tenant waiting for {system}", explained)
    return time.monotonic() - started, finished


def _page_api_and_admin_say_waiting(tenant, approver, system: str) -> None:
    client = Client()
    client.force_login(approver)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert f"Waiting for {system}</strong> since " in page, page
    body = client.get(reverse("api:tenant-detail", args=[tenant.pk])).json()
    assert body["state"] == "provisioning" and body["waiting"]["system"] == system
    listing = client.get(reverse("admin:tenants_tenant_changelist"), {"q": tenant.slug})
    assert f'<td class="field-waiting_for">{system}</td>' in listing.content.decode()


def test_tenants_wait_out_a_brownout_and_two_outages_and_all_end_ready(
    requester, approver, platform, kube_api, authentik_api
):
    kube_api.retry_after[429] = "0"  # honoured, and quick for the drill
    chaos = kube_api.unreliable(0.2, seed=7, delay=0.5)
    authentik_api.down()
    platform("beat", beat=True, **CLOCKS)
    # Two worker processes of two: a request riding out an outage sleeps in its worker.
    platform("w1", concurrency=2, **CLOCKS), platform("w2", concurrency=2, **CLOCKS)
    tenants = approve(requester, approver, "brown", TENANTS)
    report("brownout", f"did: {TENANTS} approved; Kubernetes failing 20 %, Authentik away")

    seconds, _ = _wait_until_all_wait_for("Authentik", tenants, platform, kube_api)
    report("brownout", f"checked: all {TENANTS} waiting for Authentik after {seconds:.1f}s")
    _page_api_and_admin_say_waiting(tenants[0], approver, "Authentik")

    switched = timezone.now()
    kube_api.down()
    authentik_api.up()
    seconds, finished = _wait_until_all_wait_for(
        "Kubernetes", tenants, platform, kube_api, switched
    )
    held = [t for t in tenants if t not in finished]
    assert held, "some tenant waits for Kubernetes, or the drill's second outage held none back"
    report(
        "brownout",
        f"did: Authentik back, Kubernetes away; {len(held)} waiting in {seconds:.1f}s, "
        f"{len(finished)} ready from a run already past Kubernetes",
    )
    _page_api_and_admin_say_waiting(held[0], approver, "Kubernetes")

    back = timezone.now()
    kube_api.up()

    # One tenant a platform admin doesn't leave to the sweep: retried now, audited.
    def idle_waiting():  # held back, its next try not begun
        return next((t for t in tenants if getattr(tenant_waiting(t), "retry_at", None)), None)

    now = wait_until(idle_waiting, TIMEOUT, "a tenant waiting for its next try", platform.logs)
    services.tenant_retry(tenant=now, actor=approver)
    seconds = wait_all(tenants, {Tenant.State.READY}, platform, kube_api, TIMEOUT)
    kube_api.unreliable(0)
    report("brownout", f"did: Kubernetes back; all {TENANTS} ready {seconds:.1f}s later")

    assert chaos.injected["500"] and chaos.injected["429"] and chaos.injected["delay"]
    runs = Run.objects.filter(tenant__in=tenants)
    # A tenant just ready gets its first drift check at the next sweep: those end too.
    wait_until(
        lambda: not runs.filter(status__in=Run.OPEN).exists(), TIMEOUT, "no run open", platform.logs
    )
    assert set(
        Tenant.objects.filter(pk__in=[t.pk for t in tenants]).values_list("state", flat=True)
    ) == {Tenant.State.READY}
    # A drift check of a tenant ready while Kubernetes was away ends by that outage (the tenant
    # stays ready); every other check finds it as built.
    checks = runs.filter(reason="drift")
    during = checks.filter(created_at__lt=back, status=Run.Status.FAILED, outage="Kubernetes")
    found = {(c.status, len(c.drift)) for c in checks.exclude(pk__in=during)}
    assert found <= {(Run.Status.SUCCEEDED, 0)}, "as built"
    assert not during or finished, "only a tenant ready during the outage is checked in it"
    ended = Counter(runs.filter(status=Run.Status.FAILED).values_list("outage", flat=True))
    assert "" not in ended, "every run that didn't finish was ended by an outage"
    assert ended["Authentik"] >= TENANTS and ended["Kubernetes"] >= len(held)
    assert not StepRun.objects.filter(run__tenant__in=tenants, status=StepRun.Status.RUNNING)
    events = AuditEvent.objects.filter(object_type="tenant")
    assert not events.filter(action=AuditEvent.Action.TENANT_FAILED).exists()
    retried = events.get(action=AuditEvent.Action.TENANT_RETRIED)
    assert retried.object_id == str(now.pk)
    assert retried.message.startswith("Retried now, while waiting for Kubernetes since ")
    assert events.filter(action=AuditEvent.Action.TENANT_READY).count() == TENANTS
    report(
        "brownout",
        f"did: {sum(chaos.injected.values())} of {len(kube_api.requests)} Kubernetes requests "
        f"answered 500/429/late ({dict(chaos.injected)}); runs ended waiting: {dict(ended)}",
    )

    # Nothing made twice: one namespace, one Authentik provider and application per tenant,
    # and the Secret holds the provider's live client id.
    namespaces = [n["metadata"]["name"] for n in kube_api.list("Namespace")]
    assert sorted(n for n in namespaces if n.startswith("wp-brown")) == sorted(
        t.namespace for t in tenants
    )
    for tenant in tenants:
        [provider] = providers(authentik_api, tenant.slug)
        assert tenant_secret(kube_api, tenant)[OIDC_CLIENT_ID] == provider["client_id"]
        apps = [a for a in authentik_api.applications.values() if tenant.slug in a["slug"]]
        assert [a["provider"] for a in apps] == [provider["pk"]]
        assert tenant.last_error == ""
    report("brownout", "checked: 0 failed, 0 duplicates, 0 runs left open, nothing lost")
