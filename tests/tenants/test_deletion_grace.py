"""Deletion with a way back: suspended for the grace period, purged by the beat, or kept."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from portal.errors import ApplicationError
from provisioning.models import Run
from tenants import deletion, services, suspension
from tenants.models import AuditEvent, Backup, Tenant
from tenants.tasks import purge_due_deletions
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db
Action = AuditEvent.Action


@pytest.fixture(autouse=True)
def _grace(settings):
    settings.PORTAL_DELETE_GRACE_DAYS = 14


@pytest.fixture
def ready(requester):
    return TenantFactory(owner=requester, slug="shop", state=Tenant.State.READY)


def test_deleting_from_the_page_suspends_and_cancel_brings_it_back(client, requester, ready):
    client.force_login(requester)
    url = reverse("tenants:delete", args=[ready.pk])
    assert "14 days later removed" in client.get(url).content.decode()
    answer = client.post(url, {"confirm_slug": "shop"}, follow=True)
    assert "shop is suspended and will be deleted on" in answer.content.decode()
    ready.refresh_from_db()
    assert ready.state == Tenant.State.READY and ready.desired_present
    assert ready.is_suspended and ready.deletion_suspended
    days = (ready.delete_after - timezone.now()).total_seconds() / 86400
    assert 13.9 < days <= 14
    assert Run.objects.filter(tenant=ready, action="apply", reason="delete later").exists()
    assert not Run.objects.filter(tenant=ready, action="destroy").exists()
    page = client.get(ready.get_absolute_url()).content.decode()
    assert 'id="delete-after"' in page and 'id="btn-cancel-delete"' in page
    assert 'id="btn-resume"' not in page and 'id="btn-delete"' not in page
    assert AuditEvent.objects.filter(action=Action.TENANT_DELETE_SCHEDULED).count() == 1

    client.post(reverse("tenants:cancel_delete", args=[ready.pk]))
    ready.refresh_from_db()
    assert ready.delete_after is None and not ready.is_suspended
    assert AuditEvent.objects.filter(action=Action.TENANT_DELETE_CANCELLED).count() == 1


def test_the_page_says_the_grace_periods_suspension_once_and_not_after_the_deletion(
    client, requester, ready
):
    services.tenant_delete(tenant=ready, actor=requester)
    client.force_login(requester)
    page = client.get(ready.get_absolute_url()).content.decode()
    ready.refresh_from_db()
    # The reason is a sentence of its own: no second full stop after it.
    said = f"To be deleted on {ready.delete_after:%Y-%m-%d} unless cancelled. The site's"
    assert said in page and 'id="suspended-badge"' in page

    Tenant.objects.filter(pk=ready.pk).update(state=Tenant.State.DELETED, desired_present=False)
    page = client.get(ready.get_absolute_url()).content.decode()
    # Gone, not suspended: its address shows no notice any more.
    assert 'id="suspended-badge"' not in page and "“suspended” notice" not in page
    # A reason of the owner's own without a full stop gets one.
    other = TenantFactory(owner=requester, state=Tenant.State.READY)
    suspension.tenant_suspend(tenant=other, actor=requester, reason="Moving")
    page = client.get(other.get_absolute_url()).content.decode()
    assert "alice: Moving. The site's address" in page


def test_the_purge_tears_down_only_the_tenants_whose_grace_is_over(requester, ready, eager_celery):
    services.tenant_delete(tenant=ready, actor=requester)
    waiting = TenantFactory(owner=requester, state=Tenant.State.READY)
    services.tenant_delete(tenant=waiting, actor=requester)
    Tenant.objects.filter(pk=ready.pk).update(delete_after=timezone.now() - timedelta(minutes=1))

    purge_due_deletions()
    ready.refresh_from_db()
    waiting.refresh_from_db()
    assert ready.state == Tenant.State.DELETING and not ready.desired_present
    assert Run.objects.filter(tenant=ready, action="destroy").exists()
    assert waiting.state == Tenant.State.READY and waiting.desired_present
    event = AuditEvent.objects.filter(action=Action.TENANT_DELETE_REQUESTED).get()
    assert event.actor_name == "system"
    purge_due_deletions()  # already being deleted: nothing more, no error
    assert Run.objects.filter(tenant=ready, action="destroy").count() == 1


def test_an_admins_suspension_outlasts_a_cancelled_deletion(requester, approver, ready):
    suspension.tenant_suspend(tenant=ready, actor=approver, reason="Abuse report")
    ready.refresh_from_db()
    services.tenant_delete(tenant=ready, actor=requester)
    ready.refresh_from_db()
    assert not ready.deletion_suspended and ready.suspension_reason == "Abuse report"
    deletion.tenant_cancel_deletion(tenant=ready, actor=requester)
    ready.refresh_from_db()
    assert ready.is_suspended and ready.suspension_reason == "Abuse report"


def test_refusals_while_a_deletion_waits(requester, other_requester, ready):
    services.tenant_delete(tenant=ready, actor=requester)
    ready.refresh_from_db()
    with pytest.raises(ApplicationError, match="already to be deleted on"):
        services.tenant_delete(tenant=ready, actor=requester)
    with pytest.raises(ApplicationError, match="cancel the deletion to keep it"):
        suspension.tenant_resume(tenant=ready, actor=requester)
    with pytest.raises(ApplicationError, match="Only the owner or a platform admin"):
        deletion.tenant_cancel_deletion(tenant=ready, actor=other_requester)
    deletion.tenant_cancel_deletion(tenant=ready, actor=requester)
    ready.refresh_from_db()
    with pytest.raises(ApplicationError, match="nothing to cancel"):
        deletion.tenant_cancel_deletion(tenant=ready, actor=requester)


def test_asked_again_while_its_final_backup_runs_is_refused_and_the_date_kept(
    requester, ready, settings
):
    # With no grace period a deletion asked again is tried again now, except while its final
    # backup runs: then the date stays, so that backup's failure is still the page's word.
    settings.PORTAL_DELETE_GRACE_DAYS = 0
    due = timezone.now() - timedelta(minutes=5)
    Tenant.objects.filter(pk=ready.pk).update(delete_after=due, suspended_at=due)
    ready.refresh_from_db()
    final = Backup.objects.create(tenant=ready, reason="final", state=Backup.State.RUNNING)
    with pytest.raises(ApplicationError, match="final backup is being taken now"):
        services.tenant_delete(tenant=ready, actor=requester)
    ready.refresh_from_db()
    assert ready.delete_after == due
    Backup.objects.filter(pk=final.pk).update(state=Backup.State.FAILED, error="disk full")
    assert deletion.deletion_held_by(ready) == "disk full"


def test_a_request_not_built_yet_is_withdrawn_at_once(requester):
    tenant = TenantFactory(owner=requester)
    services.tenant_delete(tenant=tenant, actor=requester)
    tenant.refresh_from_db()
    assert tenant.state == Tenant.State.DELETED and tenant.delete_after is None


def test_cancel_is_the_owners_or_an_admins_until_the_teardown_begins(
    client, requester, approver, auditor, ready
):
    services.tenant_delete(tenant=ready, actor=requester)
    # Due, its final backup being taken: still the owner's or an admin's to cancel, not an
    # auditor's (who reads the page).
    Tenant.objects.filter(pk=ready.pk).update(delete_after=timezone.now() - timedelta(minutes=1))
    final = Backup.objects.create(tenant=ready, reason="final", state=Backup.State.RUNNING)
    url = reverse("tenants:cancel_delete", args=[ready.pk])
    client.force_login(auditor)
    assert 'id="btn-cancel-delete"' not in client.get(ready.get_absolute_url()).content.decode()
    assert client.post(url).status_code == 403
    client.force_login(approver)
    assert 'id="btn-cancel-delete"' in client.get(ready.get_absolute_url()).content.decode()
    answer = client.post(url, follow=True).content.decode()
    assert "shop stays; its deletion was cancelled." in answer
    ready.refresh_from_db()
    assert ready.delete_after is None and not ready.is_suspended
    event = AuditEvent.objects.get(action=Action.TENANT_DELETE_CANCELLED)
    assert event.actor_name == approver.username

    # Deleted again and purged once due (its final backup done): the teardown has begun, and
    # there is no way back on the page.
    Backup.objects.filter(pk=final.pk).update(state=Backup.State.DONE)
    services.tenant_delete(tenant=ready, actor=requester)
    Tenant.objects.filter(pk=ready.pk).update(delete_after=timezone.now() - timedelta(minutes=1))
    ready.refresh_from_db()
    assert deletion.tenant_purge(ready)
    client.force_login(requester)
    page = client.get(ready.get_absolute_url()).content.decode()
    assert 'id="btn-cancel-delete"' not in page and 'id="delete-after"' not in page
    answer = client.post(url, follow=True).content.decode()
    assert "its deletion can&#x27;t be cancelled now" in answer
    ready.refresh_from_db()
    assert ready.state == Tenant.State.DELETING and not ready.desired_present
    assert AuditEvent.objects.filter(action=Action.TENANT_DELETE_CANCELLED).count() == 1
