"""The content pipeline switch (request form, tenant page) and its signed confirmation webhook."""

import json
import time

import pytest
from django.urls import reverse

from portal.errors import ApplicationError
from provisioning import secrets as keys
from provisioning.drivers.kubernetes import KubernetesSecrets
from provisioning.models import Run
from provisioning.spec import spec_for
from provisioning.steps.base import StepContext
from provisioning.steps.namespace import NamespaceStep
from tenants import pipeline
from tenants.models import AuditEvent, Tenant
from tenants.pipelinehook import sign
from tests.factories import TenantFactory, plan, request_form_data

pytestmark = pytest.mark.django_db
HOOK = "/hooks/pipeline/"


@pytest.fixture
def ready(requester):
    return TenantFactory(owner=requester, slug="shop", state=Tenant.State.READY)


def test_the_request_form_follows_the_plan_unless_the_requester_chose(client, requester):
    small = plan("small")
    small.content_pipeline_default = True
    small.save()
    client.force_login(requester)
    client.post(reverse("tenants:request"), request_form_data(slug="blog-a"))
    client.post(
        reverse("tenants:request"), request_form_data(slug="blog-b", content_pipeline="off")
    )
    answer = client.post(
        reverse("tenants:request"), request_form_data(slug="blog-c", content_pipeline="maybe")
    )
    assert Tenant.objects.get(slug="blog-a").content_pipeline is True
    assert Tenant.objects.get(slug="blog-b").content_pipeline is False
    assert answer.status_code == 400
    assert "Choose on, off or as the plan says." in answer.content.decode()
    assert not Tenant.objects.filter(slug="blog-c").exists()


def test_a_site_below_the_abilities_apis_wordpress_gets_no_pipeline(client, requester):
    small = plan("small")
    small.content_pipeline_default = True
    small.save()
    client.force_login(requester)
    # The form says the minimum its check holds to.
    form = client.get(reverse("tenants:request")).content.decode()
    assert "publish to the site (WordPress 6.8 or later)" in form
    asked = request_form_data(slug="old-a", wordpress_version="6.7", content_pipeline="on")
    answer = client.post(reverse("tenants:request"), asked)
    assert answer.status_code == 400
    said = "The AI content pipeline needs WordPress 6.8 or later; this site runs 6.7."
    assert said in answer.content.decode()
    assert not Tenant.objects.filter(slug="old-a").exists()
    # As the plan says: off, for this version.
    client.post(
        reverse("tenants:request"), request_form_data(slug="old-b", wordpress_version="6.6")
    )
    assert Tenant.objects.get(slug="old-b").content_pipeline is False
    # On 6.9 (the Abilities API in core) and on 6.8 (its plugin) the plan's default holds.
    for slug, version in (("new-c", "6.9"), ("new-d", "6.8")):
        client.post(
            reverse("tenants:request"),
            request_form_data(slug=slug, wordpress_version=version),
        )
        assert Tenant.objects.get(slug=slug).content_pipeline is True
    # A built site on 6.7 isn't switched on either; one on 6.8 is.
    old = TenantFactory(owner=requester, state=Tenant.State.READY, wordpress_version="6.7")
    with pytest.raises(ApplicationError, match="needs WordPress 6.8 or later; this site runs 6.7"):
        pipeline.tenant_pipeline_switch(tenant=old, actor=requester, on=True)
    assert not Run.objects.filter(tenant=old).exists()
    assert pipeline.pipeline_unavailable("6.8") == pipeline.pipeline_unavailable("6.10") == ""


def test_the_owner_switches_it_on_from_the_page_audited_and_converged(client, requester, ready):
    client.force_login(requester)
    page = client.get(ready.get_absolute_url()).content.decode()
    assert "Switch the pipeline on" in page

    client.post(reverse("tenants:pipeline", args=[ready.pk]), {"on": "1"})

    ready.refresh_from_db()
    assert ready.content_pipeline is True
    assert Run.objects.filter(tenant=ready, reason="pipeline", action="apply").exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.TENANT_PIPELINE)
    assert (event.before, event.after) == ({"content_pipeline": False}, {"content_pipeline": True})
    page = client.get(ready.get_absolute_url()).content.decode()
    assert "Configured" in page and "none confirmed yet" in page
    assert "Switch the pipeline off" in page


def test_only_the_owner_or_an_admin_switches_it(other_requester, approver, ready):
    with pytest.raises(ApplicationError, match="Only the owner or a platform admin"):
        pipeline.tenant_pipeline_switch(tenant=ready, actor=other_requester, on=True)
    pipeline.tenant_pipeline_switch(tenant=ready, actor=approver, on=True)
    with pytest.raises(ApplicationError, match="already on"):
        pipeline.tenant_pipeline_switch(tenant=ready, actor=approver, on=True)


def test_a_busy_tenant_is_not_switched(requester):
    busy = TenantFactory(owner=requester, state=Tenant.State.PROVISIONING)
    with pytest.raises(ApplicationError, match="Try again once it has settled"):
        pipeline.tenant_pipeline_switch(tenant=busy, actor=requester, on=True)
    assert not Tenant.objects.get(pk=busy.pk).content_pipeline


# --- the confirmation webhook ---------------------------------------------------------------


@pytest.fixture
def signed(kube_cluster, requester):
    """A ready tenant with the pipeline on, its webhook keys in its Secret (the fake cluster)."""
    tenant = TenantFactory(
        owner=requester, slug="shop", state=Tenant.State.READY, content_pipeline=True
    )
    spec = spec_for(tenant)
    store = KubernetesSecrets(spec)
    NamespaceStep(StepContext(spec=spec, secrets=store)).apply()
    store.put({keys.PIPELINE_WEBHOOK_SECRET: "k" * 64, keys.PIPELINE_REPORT_SECRET: REPORT_KEY})
    return tenant


def post(client, payload: dict, key: str = "k" * 64, timestamp: int | None = None, sig=None):
    body = json.dumps(payload).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return client.post(
        HOOK,
        body,
        content_type="application/json",
        headers={
            "X-Pipeline-Timestamp": stamp,
            "X-Pipeline-Signature": sig or sign(key, stamp, body),
        },
    )


PUBLISHED = {"tenant": "shop", "post_id": 42, "title": "Hello AI", "url": "https://x/hello"}
REPORT_KEY = "r" * 64
REFUSED = {"tenant": "shop", "error": {"reason": "site_refused", "status": 403, "code": "rest_x"}}


def test_a_signed_confirmation_shows_on_the_tenant_page(client, signed, requester):
    assert post(client, PUBLISHED).status_code == 200
    signed.refresh_from_db()
    assert signed.pipeline_confirmed_at is not None
    assert signed.pipeline_post == "“Hello AI” (post 42) https://x/hello"
    assert post(client, REFUSED, key=REPORT_KEY).status_code == 200

    client.force_login(requester)
    page = client.get(signed.get_absolute_url()).content.decode()
    assert "“Hello AI” (post 42)" in page
    assert "The tenant&#x27;s site refused the post (HTTP 403, rest_x)" in page


def test_the_pipelines_error_report_is_audited_and_a_later_publication_clears_it(client, signed):
    said = {"reason": "token_refused", "status": 400, "code": "invalid_grant"}
    assert post(client, {"tenant": "shop", "error": said}, key=REPORT_KEY).status_code == 200
    signed.refresh_from_db()
    message = "Authentik refused the tenant's credentials (HTTP 400, invalid_grant)"
    assert signed.pipeline_error == message and signed.pipeline_error_at is not None
    event = AuditEvent.objects.get(action=AuditEvent.Action.TENANT_PIPELINE_FAILED)
    assert (event.object_id, event.actor_name) == (str(signed.pk), "content pipeline")
    assert event.message == f"publication failed: {message}"
    assert event.after == {"reason": "token_refused"}

    assert post(client, PUBLISHED).status_code == 200
    signed.refresh_from_db()
    assert (signed.pipeline_error, signed.pipeline_error_at) == ("", None)


def test_an_error_report_says_only_the_portals_words(client, signed):
    # A text of the sender's own, a status out of range and a code of a token's length or
    # shape never reach the page.
    secretish = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwaXBlbGluZSJ9.c2lnbmF0dXJlLW9mLWEtdG9rZW4"
    said = {"reason": "ai_refused", "status": 1000, "code": secretish, "message": secretish}
    assert post(client, {"tenant": "shop", "error": said}, key=REPORT_KEY).status_code == 200
    signed.refresh_from_db()
    assert signed.pipeline_error == "The AI endpoint refused the request"
    for unknown in ("the token is abc", {"reason": "anything"}, {"status": 500}, {"reason": [1]}):
        answer = post(client, {"tenant": "shop", "error": unknown}, key=REPORT_KEY)
        assert answer.status_code == 400
    signed.refresh_from_db()
    assert signed.pipeline_error == "The AI endpoint refused the request"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_PIPELINE_FAILED).count() == 1


def test_a_replayed_confirmation_is_refused(client, signed):
    stamp = int(time.time())
    assert post(client, PUBLISHED, timestamp=stamp).status_code == 200
    assert post(client, PUBLISHED, timestamp=stamp).status_code == 409
    old = post(client, {**PUBLISHED, "post_id": 7}, timestamp=stamp - 3600)
    assert old.status_code == 401


def test_a_replayed_or_old_error_report_is_refused(client, signed):
    stamp = int(time.time())
    assert post(client, REFUSED, key=REPORT_KEY, timestamp=stamp).status_code == 200
    assert post(client, REFUSED, key=REPORT_KEY, timestamp=stamp).status_code == 409
    old = post(client, REFUSED, key=REPORT_KEY, timestamp=stamp - 3600)
    assert old.status_code == 401
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_PIPELINE_FAILED).count() == 1


def test_a_request_the_portal_could_not_take_leaves_no_mark_and_is_taken_again(
    client, signed, settings, monkeypatch
):
    """The senders send a 503'd request again as it was: it must not then be a replay."""
    from django.db import OperationalError

    from tenants import pipelinehook

    stamp = int(time.time())
    # The cache (replay marks) unreachable.
    caches = settings.CACHES
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }
    assert post(client, REFUSED, key=REPORT_KEY, timestamp=stamp).status_code == 503
    settings.CACHES = caches
    # The database failing as the report is recorded.
    recorded = pipelinehook._record_error

    def database_gone(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(pipelinehook, "_record_error", database_gone)
    assert post(client, REFUSED, key=REPORT_KEY, timestamp=stamp).status_code == 503
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_PIPELINE_FAILED).exists()

    monkeypatch.setattr(pipelinehook, "_record_error", recorded)
    assert post(client, REFUSED, key=REPORT_KEY, timestamp=stamp).status_code == 200
    assert post(client, REFUSED, key=REPORT_KEY, timestamp=stamp).status_code == 409
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_PIPELINE_FAILED).count() == 1
    signed.refresh_from_db()
    assert signed.pipeline_error == "The tenant's site refused the post (HTTP 403, rest_x)"


def test_each_side_signs_only_its_own_word(client, signed):
    # The site's key makes no error report, the pipeline's no confirmation.
    assert post(client, REFUSED).status_code == 401
    assert post(client, PUBLISHED, key=REPORT_KEY).status_code == 401
    assert post(client, REFUSED, key="not-the-key").status_code == 401
    signed.refresh_from_db()
    assert (signed.pipeline_error, signed.pipeline_post) == ("", "")
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_PIPELINE_FAILED).exists()


def test_a_forged_confirmation_changes_nothing(client, signed):
    assert post(client, PUBLISHED, key="not-the-key").status_code == 401
    assert post(client, PUBLISHED, sig="sha256=" + "0" * 64).status_code == 401
    assert post(client, {**PUBLISHED, "tenant": "nobody"}).status_code == 401
    assert post(client, {**PUBLISHED, "tenant": ["shop"]}).status_code == 401
    bare = client.post(HOOK, b"{}", content_type="application/json")
    assert bare.status_code == 401
    assert client.get(HOOK).status_code == 405
    signed.refresh_from_db()
    assert signed.pipeline_confirmed_at is None and signed.pipeline_post == ""


def test_the_owner_switch_of_a_failed_tenant_waits_for_the_admins_retry(requester, approver):
    failed = TenantFactory(owner=requester, state=Tenant.State.FAILED)
    pipeline.tenant_pipeline_switch(tenant=failed, actor=requester, on=True)
    assert Tenant.objects.get(pk=failed.pk).content_pipeline is True
    assert not Run.objects.filter(tenant=failed).exists()
    pipeline.tenant_pipeline_switch(tenant=failed, actor=approver, on=False)
    assert Run.objects.filter(tenant=failed, reason="pipeline").exists()


def test_the_page_says_when_the_pipeline_step_failed(client, requester, ready):
    from provisioning.models import StepRun

    ready.content_pipeline = True
    ready.save()
    run = Run.objects.create(tenant=ready, action="apply", reason="pipeline", status="failed")
    StepRun.objects.create(run=run, name="pipeline", position=7, status="failed")
    client.force_login(requester)
    page = client.get(ready.get_absolute_url()).content.decode()
    assert "Not configured: the pipeline step failed in the last run" in page


def test_the_approver_sees_whether_the_pipeline_was_asked_for(client, requester, approver):
    asked = TenantFactory(owner=requester, content_pipeline=True)
    client.force_login(approver)
    page = client.get(reverse("tenants:approval", args=[asked.pk])).content.decode()
    assert 'id="approval-pipeline">On' in page
