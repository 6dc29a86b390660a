"""The tenant pages and approval screens, through the test client as each role."""

import importlib

import pytest
from django.apps import apps as django_apps
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from provisioning import runs
from provisioning.models import Run, StepRun
from tenants.models import AuditEvent, Backup, Tenant
from tests.factories import TenantFactory, UserFactory, plan


def request_tenant(client, slug="shop", **extra):
    data = {
        "slug": slug,
        "display_name": "My shop",
        "plan": plan("small").pk,
        "wordpress_version": "6.8",
        "admin_email": "shop@example.com",
        **extra,
    }
    return client.post(reverse("tenants:request"), data, follow=True)


def test_request_approve_provision_audit(
    client, requester, approver, eager_celery, django_capture_on_commit_callbacks
):
    client.force_login(requester)
    with django_capture_on_commit_callbacks(execute=True):
        response = request_tenant(client)
    tenant = Tenant.objects.get(slug="shop")
    assert response.redirect_chain[-1][0] == tenant.get_absolute_url()
    assert "Awaiting approval" in response.content.decode()

    client.force_login(approver)
    queue = client.get(reverse("tenants:approvals")).content.decode()
    assert reverse("tenants:approval", args=[tenant.pk]) in queue
    detail = client.get(reverse("tenants:approval", args=[tenant.pk])).content.decode()
    assert "Approving this claims" in detail and "CPU" in detail

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            reverse("tenants:approval", args=[tenant.pk]), {"decision": "approve"}, follow=True
        )
    assert callbacks, "provisioning was queued on commit"
    assert "Approved shop; provisioning starts now." in response.content.decode()
    run = Run.objects.get(tenant=tenant)
    assert run.reason == "approved" and run.requested_by == approver
    tenant.refresh_from_db()
    # All drivers in plan mode: the eager task ran every step and the tenant is ready.
    assert tenant.state == Tenant.State.READY, tenant.last_error
    assert set(run.steps.values_list("status", flat=True)) == {StepRun.Status.PLANNED}

    client.force_login(requester)
    page = client.get(tenant.get_absolute_url()).content.decode()
    # No certificate issuer configured: the site is served, and linked, over http.
    assert 'href="http://wordpress-shop.local/"' in page
    assert "Planned (plan mode)" in page
    for text in ("Tenant requested", "Tenant approved", "Provisioning started", "Tenant ready"):
        assert text in page

    events = AuditEvent.objects.filter(object_type="tenant", object_id=str(tenant.pk))
    assert list(events.order_by("id").values_list("action", "actor_name")) == [
        ("tenant.requested", "alice"),
        ("tenant.approved", "carol"),
        ("tenant.provisioning", "system"),
        ("tenant.ready", "system"),
    ]
    approved = events.get(action="tenant.approved")
    assert approved.before["state"] == "requested" and approved.after["state"] == "approved"
    assert approved.ip == "127.0.0.1" and approved.request_id


def test_request_reject_needs_a_reason(
    client, requester, approver, eager_celery, django_capture_on_commit_callbacks
):
    tenant = TenantFactory(owner=requester, slug="nope")
    client.force_login(approver)
    url = reverse("tenants:approval", args=[tenant.pk])
    response = client.post(url, {"decision": "reject", "reason": "   "})
    assert response.status_code == 400
    assert "Say why, so the requester knows what to change." in response.content.decode()
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.REQUESTED

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            url, {"decision": "reject", "reason": "Use the shared blog instead."}, follow=True
        )
    assert "Rejected nope; the requester was told." in response.content.decode()
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.REJECTED
    assert not Run.objects.filter(tenant=tenant).exists()
    event = AuditEvent.objects.get(action="tenant.rejected")
    assert event.message == "Use the shared blog instead." and event.actor_name == "carol"

    client.force_login(requester)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert "Rejected" in page and "Use the shared blog instead." in page
    assert [m.subject for m in mail.outbox] == ["[Tenant portal] Rejected: nope"]


def test_nobody_approves_their_own_request(client, approver):
    tenant = TenantFactory(owner=approver, slug="mine")
    client.force_login(approver)
    url = reverse("tenants:approval", args=[tenant.pk])
    assert "This is your own request" in client.get(url).content.decode()
    response = client.post(url, {"decision": "approve"}, follow=True)
    assert "You can&#x27;t decide on your own request" in response.content.decode()
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.REQUESTED


@pytest.mark.parametrize("role", ["requester", "auditor"])
def test_only_approvers_decide(client, role, approver):
    tenant = TenantFactory(slug="wanted")
    client.force_login(UserFactory(username=f"x-{role}", role=role))
    url = reverse("tenants:approval", args=[tenant.pk])
    assert client.post(url, {"decision": "approve"}).status_code == 403
    assert client.get(url).status_code == (200 if role == "auditor" else 403)
    assert Tenant.objects.get(pk=tenant.pk).state == Tenant.State.REQUESTED


def test_decided_request_says_so(client, approver, second_approver):
    tenant = TenantFactory(slug="done", state="approved", decided_by=second_approver)
    client.force_login(approver)
    url = reverse("tenants:approval", args=[tenant.pk])
    page = client.post(url, {"decision": "approve"}, follow=True).content.decode()
    assert "This request was already decided by dave" in page
    assert "This request was already decided: it is “Approved, queued” (by dave)" in page
    # Nothing to claim any more: no "Approving this claims CPU …" counting it a second time.
    assert "Approving this claims" not in page and 'id="capacity-h"' not in page


def test_queue_is_oldest_first_with_age(client, approver):
    from datetime import timedelta

    from django.utils import timezone

    newer = TenantFactory(slug="newer")
    older = TenantFactory(slug="older")
    Tenant.objects.filter(pk=older.pk).update(created_at=timezone.now() - timedelta(hours=3))
    TenantFactory(slug="ready-one", state="ready")
    client.force_login(approver)
    page = client.get(reverse("tenants:approvals")).content.decode()
    assert page.index(">older<") < page.index(">newer<")
    assert "ready-one" not in page
    assert "3\xa0hours" in page
    assert newer.slug in page


def test_requester_sees_only_their_own(client, requester, other_requester):
    TenantFactory(owner=requester, slug="mine")
    theirs = TenantFactory(owner=other_requester, slug="theirs")
    client.force_login(requester)
    page = client.get(reverse("tenants:list")).content.decode()
    assert ">mine<" in page and "theirs" not in page and "My tenants" in page
    assert client.get(theirs.get_absolute_url()).status_code == 404
    assert client.get(reverse("tenants:progress", args=[theirs.pk])).status_code == 404
    # An owner filter from a requester does not widen their view.
    page = client.get(reverse("tenants:list"), {"owner": "bob"}).content.decode()
    assert "theirs" not in page


def test_admin_list_filters_sorts_and_pages(client, approver, requester, other_requester, settings):
    settings.PORTAL_PAGE_SIZE = 2
    TenantFactory(owner=requester, slug="alpha", display_name="Cooking", state="ready")
    TenantFactory(owner=other_requester, slug="bravo", plan=plan("large"), state="failed")
    TenantFactory(owner=other_requester, slug="charlie", host="charlie.example.org")
    client.force_login(approver)
    url = reverse("tenants:list")

    def names(**params):
        response = client.get(url, params)
        return [t.slug for t in response.context["page"]]

    assert names(sort="name") == ["alpha", "bravo"]
    assert names(sort="name", page=2) == ["charlie"]
    assert names(sort="-name") == ["charlie", "bravo"]
    assert names(state="failed") == ["bravo"]
    assert names(plan="large") == ["bravo"]
    assert names(owner="ALICE") == ["alpha"]
    assert names(q="cook") == ["alpha"]
    assert names(q="example.org") == ["charlie"]
    page = client.get(url, {"sort": "name", "state": "ready"}).content.decode()
    assert 'aria-sort="ascending"' in page
    page = client.get(url, {"sort": "name"}).content.decode()
    assert 'rel="next"' in page and "page=2" in page and "Page 1 of 2" in page


def test_progress_partial_polls_while_busy_and_stops_when_done(client, requester):
    tenant = TenantFactory(owner=requester, slug="busy", state="provisioning")
    run = Run.objects.create(
        tenant=tenant,
        action="apply",
        reason="approved",
        status="running",
        message="database: trying again at 07:40:12 after: MariaDB didn't answer",
    )
    StepRun.objects.create(run=run, name="namespace", position=0, status="changed")
    StepRun.objects.create(run=run, name="database", position=1, status="running")
    client.force_login(requester)
    detail = client.get(tenant.get_absolute_url()).content.decode()
    progress_url = reverse("tenants:progress", args=[tenant.pk])
    assert f'hx-get="{progress_url}"' in detail and 'hx-trigger="every 2s"' in detail

    partial = client.get(progress_url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and "Running" in partial and "Applied" in partial
    assert 'hx-swap-oob="true"' in partial
    assert "database: trying again at 07:40:12 after: MariaDB didn&#x27;t answer" in partial

    StepRun.objects.filter(run=run, name="database").update(
        status="failed", error="MariaDB refused the user: access denied"
    )
    Run.objects.filter(pk=run.pk).update(status="failed")
    Tenant.objects.filter(pk=tenant.pk).update(
        state="failed", last_error="The database step failed: MariaDB refused the user"
    )
    partial = client.get(progress_url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in partial
    assert "What went wrong:</strong> Setting up your site stopped while creating" in partial


def test_the_poll_that_ends_a_run_brings_back_what_a_ready_tenant_offers(
    client, requester, backups_on
):
    """The page opened while the run was under way had no backup button, restore link or
    schedule form (a tenant being built has none); its last poll brings them, as it brings
    the facts' "Ready", rather than leaving them out until a reload."""
    tenant = TenantFactory(owner=requester, slug="settled", state="provisioning")
    run = Run.objects.create(tenant=tenant, action="apply", reason="plan change", status="running")
    Backup.objects.create(tenant=tenant, state=Backup.State.DONE, size_bytes=10)
    client.force_login(requester)
    progress_url = reverse("tenants:progress", args=[tenant.pk])
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert 'id="btn-backup"' not in page and 'id="id_backup_frequency"' not in page

    partial = client.get(progress_url, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="backups"' not in partial  # mid-run: the sections stay as they are

    Run.objects.filter(pk=run.pk).update(status="succeeded", finished_at=timezone.now())
    Tenant.objects.filter(pk=tenant.pk).update(state="ready")
    partial = client.get(progress_url, HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every' not in partial
    assert 'id="backups" aria-labelledby="backups-h" hx-swap-oob="true"' in partial
    assert 'id="backup-schedule" aria-labelledby="backup-schedule-h" hx-swap-oob="true"' in partial
    assert 'id="btn-backup"' in partial and "Restore…" in partial
    assert 'id="id_backup_frequency"' in partial


def test_delete_asks_for_confirmation(
    client, requester, eager_celery, django_capture_on_commit_callbacks
):
    tenant = TenantFactory(owner=requester, slug="old", state="ready")
    client.force_login(requester)
    url = reverse("tenants:delete", args=[tenant.pk])
    page = client.get(url).content.decode()
    assert "Type <strong>old</strong> to confirm" in page and "can't be undone" in page

    response = client.post(url, {"confirm_slug": "olx"})
    assert response.status_code == 400
    assert "Type the tenant&#x27;s name, old, to confirm." in response.content.decode()
    assert Tenant.objects.get(pk=tenant.pk).state == "ready"

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"confirm_slug": "old"}, follow=True)
    assert "old is being deleted." in response.content.decode()
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.DELETED and not tenant.desired_present
    assert AuditEvent.objects.filter(action="tenant.delete_requested", actor_name="alice").exists()


def test_withdrawing_a_request(client, requester):
    tenant = TenantFactory(owner=requester, slug="oops")
    client.force_login(requester)
    response = client.post(
        reverse("tenants:delete", args=[tenant.pk]), {"confirm_slug": "oops"}, follow=True
    )
    assert "Your request for oops was withdrawn." in response.content.decode()
    assert Tenant.objects.get(pk=tenant.pk).state == Tenant.State.DELETED


def test_others_cannot_delete(client, other_requester, auditor):
    tenant = TenantFactory(slug="keep", state="ready")
    for user, status in ((other_requester, 404), (auditor, 403)):
        client.force_login(user)
        url = reverse("tenants:delete", args=[tenant.pk])
        assert client.post(url, {"confirm_slug": "keep"}).status_code == status
    assert Tenant.objects.get(pk=tenant.pk).state == "ready"


def test_auditor_reads_but_cannot_request(client, auditor):
    tenant = TenantFactory(slug="seen")
    client.force_login(auditor)
    assert client.get(tenant.get_absolute_url()).status_code == 200
    assert client.get(reverse("tenants:approvals")).status_code == 200
    response = client.post(reverse("tenants:request"), {"slug": "sneaky"})
    assert response.status_code == 403
    assert not Tenant.objects.filter(slug="sneaky").exists()


def test_anonymous_is_sent_to_sign_in(client):
    response = client.get(reverse("tenants:list"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_unknown_sort_falls_back_to_newest_first_in_every_link(client_for, approver):
    page = client_for(approver).get("/tenants/?sort=%22onclick%3Dx%20__class__").content.decode()
    assert "__class__" not in page and "onclick" not in page
    assert "sort=-created" in page or "sort=created" in page
    assert "Unknown sort; showing the newest first." in page


@pytest.mark.parametrize(
    ("params", "sentence"),
    [
        ({"state": "bogus"}, "Unknown state “bogus”; showing tenants in every state."),
        ({"plan": "huge"}, "Unknown plan “huge”; showing tenants on every plan."),
        ({"sort": "-size"}, "Unknown sort “-size”; showing the newest first."),
    ],
)
def test_an_unknown_filter_value_says_so_and_lists_the_rest(client, approver, params, sentence):
    """A typed or stale link's value no filter knows: a sentence, not "No tenants match"."""
    TenantFactory(slug="cooking", display_name="Cooking", state="ready")
    TenantFactory(slug="other", state="ready")
    client.force_login(approver)

    response = client.get(reverse("tenants:list"), {"q": "cook", "sort": "name", **params})

    assert response.status_code == 200
    page = response.content.decode()
    assert sentence in page
    # The other filters still hold: the search found its tenant, the list is not empty.
    assert [t.slug for t in response.context["page"]] == ["cooking"]
    assert 'value="cook"' in page
    # The unknown value is dropped from the form and every link, so the next click is clean.
    ((name, value),) = params.items()
    assert f"{name}={value}&" not in page and f'value="{value}" selected' not in page


def test_the_list_links_carry_what_they_were_given(client, approver):
    """Known values give no sentence (withdrawn is a state of the list, not of a tenant)."""
    client.force_login(approver)
    for params in ({"state": "withdrawn"}, {"plan": "large"}, {"sort": "-owner"}, {"state": ""}):
        page = client.get(reverse("tenants:list"), params).content.decode()
        assert "Unknown" not in page, params


def test_list_hides_gone_tenants_unless_asked(client, requester, approver):
    TenantFactory(owner=requester, slug="live", state="ready")
    TenantFactory(owner=requester, slug="nope", state="rejected", decided_by=approver)
    TenantFactory(owner=requester, slug="taken-back", state="deleted")  # never decided
    TenantFactory(owner=requester, slug="torn-down", state="deleted", decided_at=timezone.now())
    client.force_login(requester)
    url = reverse("tenants:list")

    def names(**params):
        return sorted(t.slug for t in client.get(url, params).context["page"])

    assert names() == ["live"]
    assert names(gone="1") == ["live", "nope", "taken-back", "torn-down"]
    assert names(state="rejected") == ["nope"]
    assert names(state="withdrawn") == ["taken-back"]
    assert names(state="deleted") == ["torn-down"]
    page = client.get(url, {"gone": "1"}).content.decode()
    assert 'state-withdrawn">Withdrawn<' in page and 'state-deleted">Deleted<' in page
    assert 'name="gone" value="1" checked' in page
    # Sorting and paging keep the choice.
    assert "gone=1&amp;" in page


def test_withdrawn_request_says_withdrawn(client, requester, approver, auditor):
    tenant = TenantFactory(owner=requester, slug="oops")
    client.force_login(requester)
    client.post(reverse("tenants:delete", args=[tenant.pk]), {"confirm_slug": "oops"})
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert ">Withdrawn<" in page and ">Deleted<" not in page
    # Nothing of a site that never was: no link to come, no backups scheduled.
    assert "(a link once ready)" not in page and "Backed up daily" not in page
    assert "No scheduled backups: the request was withdrawn." in page
    assert "Request withdrawn before any decision; nothing was built." in page  # its history
    # The refusals name it so too.
    backup = client.post(reverse("tenants:backup", args=[tenant.pk]), follow=True)
    assert (
        "Only a ready tenant can be backed up; this one is “Withdrawn”." in backup.content.decode()
    )

    client.force_login(approver)
    page = client.get(reverse("tenants:approval", args=[tenant.pk])).content.decode()
    assert "withdrawn by its requester before anyone decided on it" in page
    assert "already decided" not in page
    client.force_login(auditor)
    page = client.get(reverse("admin:tenants_tenant_changelist")).content.decode()
    assert '<td class="field-state_shown">Withdrawn</td>' in page


def test_runs_are_numbered_per_tenant(client, requester):
    other = TenantFactory(slug="other", state="ready")
    for _ in range(3):
        run = runs.run_request(tenant=other, action="apply", reason="approved")
        Run.objects.filter(pk=run.pk).update(status="succeeded")
    tenant = TenantFactory(owner=requester, slug="mine", state="provisioning")
    first = runs.run_request(tenant=tenant, action="apply", reason="approved")
    Run.objects.filter(pk=first.pk).update(status="failed")
    retry = runs.run_request(tenant=tenant, action="apply", reason="retry")
    assert (first.number, retry.number) == (1, 2)
    Run.objects.filter(pk=retry.pk).update(status="running")
    client.force_login(requester)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert "Provision run #2 (retry" in page and f"run #{retry.pk}" not in page


def test_the_migration_numbers_the_runs_already_there_per_tenant(db):
    number_runs = importlib.import_module("provisioning.migrations.0008_run_number").number_runs
    one, two = TenantFactory(slug="one"), TenantFactory(slug="two")
    made = [
        Run.objects.create(tenant=t, action="apply", reason="approved") for t in (one, two, one)
    ]
    number_runs(django_apps, None)
    assert [Run.objects.get(pk=r.pk).number for r in made] == [1, 1, 2]


def test_a_failure_reads_in_words_for_the_requester_and_in_detail_for_admins(
    client, requester, approver
):
    tenant = TenantFactory(owner=requester, slug="broke", state="failed", decided_by=approver)
    detail = "internal error (FileExistsError); see the worker log."
    Tenant.objects.filter(pk=tenant.pk).update(last_error=f"The namespace step failed: {detail}")
    run = Run.objects.create(tenant=tenant, action="apply", reason="approved", status="failed")
    StepRun.objects.create(run=run, name="namespace", position=0, status="failed", error=detail)
    client.force_login(requester)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert "Setting up your site stopped while preparing the site&#x27;s own space" in page
    assert "a platform admin was told" in page
    assert 'href="mailto:carol@example.com?subject=Tenant%20broke"' in page
    assert "FileExistsError" not in page and "worker log" not in page

    client.force_login(approver)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert "Setting up your site stopped" in page and "FileExistsError" in page


def test_pages_warn_while_no_worker_runs(client, requester, approver):
    from portal import heartbeat

    tenant = TenantFactory(owner=requester, slug="waits", state="approved")
    client.force_login(requester)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert 'id="worker-warning"' in page and "Building is paused" in page
    assert "Start the Celery worker" not in page
    client.force_login(approver)
    for url in (reverse("tenants:approvals"), reverse("tenants:approval", args=[tenant.pk])):
        assert "Start the Celery worker and beat." in client.get(url).content.decode()
    heartbeat.beat()
    assert 'id="worker-warning"' not in client.get(tenant.get_absolute_url()).content.decode()


def test_a_step_tried_again_reads_in_words(client, requester):
    tenant = TenantFactory(owner=requester, slug="flaky", state="provisioning")
    run = Run.objects.create(tenant=tenant, action="apply", reason="approved", status="waiting")
    StepRun.objects.create(
        run=run, name="database", position=0, status="retrying", error="MariaDB: 2003 (timeout)"
    )
    client.force_login(requester)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert "A passing problem held up creating the site&#x27;s database" in page
    assert "tried again by itself" in page and "2003" not in page


def test_approvers_see_how_many_wait_and_watch_what_they_approved(
    client, requester, approver, eager_celery, django_capture_on_commit_callbacks
):
    tenant = TenantFactory(owner=requester, slug="first")
    TenantFactory(owner=requester, slug="second")
    client.force_login(approver)
    page = client.get(reverse("tenants:list")).content.decode()
    assert '<span class="sr-only">(</span>2<span class="sr-only"> waiting)</span>' in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("tenants:approval", args=[tenant.pk]), {"decision": "approve"}
        )
    assert response["Location"] == tenant.get_absolute_url()
    page = client.get(response["Location"]).content.decode()
    assert "Approved first; provisioning starts now." in page
    assert '<span class="sr-only">(</span>1<span class="sr-only"> waiting)</span>' in page
    client.force_login(requester)
    assert "waiting)</span>" not in client.get(reverse("tenants:list")).content.decode()


def test_admins_read_the_plan_in_the_page(client, requester, approver, settings):
    tenant = TenantFactory(owner=requester, slug="planned", state="ready")
    run = Run.objects.create(tenant=tenant, action="apply", reason="approved", status="succeeded")
    StepRun.objects.create(run=run, name="namespace", position=0, status="planned")
    folder = settings.PORTAL_PLAN_DIR / "planned"
    folder.mkdir(parents=True)
    (folder / "namespace.yaml").write_text("kind: Namespace\nname: <wp-planned>\n")
    client.force_login(approver)
    page = client.get(tenant.get_absolute_url()).content.decode()
    assert "plan (what it would apply)" in page and "kind: Namespace" in page
    assert "name: &lt;wp-planned&gt;" in page  # as text
    client.force_login(requester)
    assert "kind: Namespace" not in client.get(tenant.get_absolute_url()).content.decode()


def test_the_per_person_limit_shows_before_the_form_is_filled(client, requester, settings):
    settings.PORTAL_MAX_TENANTS_PER_USER = 2
    TenantFactory(owner=requester, state="ready")
    TenantFactory(owner=requester, state="rejected")  # gone: does not count
    client.force_login(requester)
    assert 'id="at-limit"' not in client.get(reverse("tenants:request")).content.decode()
    TenantFactory(owner=requester)
    page = client.get(reverse("tenants:request")).content.decode()
    assert "You already have 2 open requests or tenants" in page


def test_the_page_follows_an_upgrade_from_its_backup_on(client, requester):
    """Between the upgrade's request and its run, a backup is taken: the page polls already,
    or it would never see the run that backup starts (it said "backing up" until a reload)."""
    tenant = TenantFactory(owner=requester, state="ready", upgrade_to="6.9")
    client.force_login(requester)
    page = client.get(tenant.get_absolute_url()).content.decode()
    progress_url = reverse("tenants:progress", args=[tenant.pk])
    assert f'hx-get="{progress_url}"' in page and 'id="upgrade-pending"' in page

    Tenant.objects.filter(pk=tenant.pk).update(upgrade_to="")  # the backup failed: it stopped
    partial = client.get(progress_url, HTTP_HX_REQUEST="true").content.decode()
    assert "hx-trigger" not in partial and 'id="upgrade-pending"' not in partial


def test_the_page_follows_a_clones_filling_to_its_end(client, requester):
    """A clone is filled by a worker after its build's run: the facts ("content copied") and
    the actions ("Promote to …") it changes come with the poll that ends with it."""
    original = TenantFactory(owner=requester, slug="shop", state="ready")
    clone = TenantFactory(owner=requester, clone_of=original, state="ready", restoring=True)
    client.force_login(requester)
    progress_url = reverse("tenants:progress", args=[clone.pk])
    assert f'hx-get="{progress_url}"' in client.get(clone.get_absolute_url()).content.decode()

    Tenant.objects.filter(pk=clone.pk).update(restoring=False, cloned_at=timezone.now())
    partial = client.get(progress_url, HTTP_HX_REQUEST="true").content.decode()
    assert "content copied" in partial and 'id="btn-promote"' in partial
    assert 'hx-trigger="every' not in partial
