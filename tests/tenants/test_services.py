"""Service rules the pages rely on: who may reconcile, and what a withdrawn request says."""

import pytest

from portal.errors import ApplicationError
from tenants import services
from tenants.models import Tenant
from tests.factories import TenantFactory


def test_an_owner_may_reconcile_a_ready_tenant_but_not_retry_a_failed_one(
    requester, django_capture_on_commit_callbacks
):
    ready = TenantFactory(owner=requester, state=Tenant.State.READY)
    with django_capture_on_commit_callbacks(execute=False):
        services.tenant_reconcile(tenant=ready, actor=requester)
    assert ready.runs.get().reason == "manual"

    failed = TenantFactory(owner=requester, state=Tenant.State.FAILED)
    with pytest.raises(ApplicationError, match="A failed tenant is retried by a platform admin"):
        services.tenant_reconcile(tenant=failed, actor=requester)
    assert not failed.runs.exists()


def test_another_requester_may_not_reconcile(requester, other_requester):
    ready = TenantFactory(owner=requester, state=Tenant.State.READY)
    with pytest.raises(ApplicationError, match="Only the owner or a platform admin"):
        services.tenant_reconcile(tenant=ready, actor=other_requester)


def test_deciding_on_a_withdrawn_request_says_it_was_withdrawn(requester, approver):
    tenant = TenantFactory(owner=requester)
    services.tenant_delete(tenant=tenant, actor=requester)
    with pytest.raises(ApplicationError, match="This request was withdrawn"):
        services.tenant_approve(tenant_id=tenant.pk, actor=approver)


def test_a_tenant_keeps_the_bucket_it_was_approved_with(
    requester, approver, settings, django_capture_on_commit_callbacks
):
    from provisioning.spec import spec_for

    settings.PORTAL_S3_BUCKET = "media-first"
    early = TenantFactory(owner=requester)
    with django_capture_on_commit_callbacks(execute=False):
        services.tenant_approve(tenant_id=early.pk, actor=approver)

    settings.PORTAL_S3_BUCKET = "media-second"  # the first bucket is full
    late = TenantFactory(owner=requester)
    with django_capture_on_commit_callbacks(execute=False):
        services.tenant_approve(tenant_id=late.pk, actor=approver)

    early.refresh_from_db()
    late.refresh_from_db()
    assert spec_for(early).s3_bucket == "media-first"
    assert spec_for(late).s3_bucket == "media-second"
