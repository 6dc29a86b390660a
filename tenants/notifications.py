"""E-mails to requesters and approvers; sent after commit, never inside a transaction."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db.models import Q
from django.template.loader import render_to_string

from portal.roles import APPROVER_GROUP
from provisioning.tenanturl import tenant_url
from tenants.failures import failure_for
from tenants.models import Tenant

log = logging.getLogger(__name__)


def _send(template: str, tenant: Tenant, recipients: list[str], **extra) -> None:
    recipients = sorted({r for r in recipients if r})
    if not recipients:
        return
    context = {
        "tenant": tenant,
        "tenant_url": tenant_url(tenant, "/"),
        # A mail has no request to build a link from: the portal's address comes from settings.
        "page_url": settings.PORTAL_URL + tenant.get_absolute_url(),
        **extra,
    }
    subject = render_to_string(f"emails/{template}_subject.txt", context).strip()
    body = render_to_string(f"emails/{template}.txt", context)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:
        # Mail trouble must not undo or block the action that was already committed.
        log.exception("could not send %s mail for tenant %s", template, tenant.slug)


def _requester(tenant: Tenant) -> list[str]:
    return [tenant.owner.email]


def _approvers(tenant: Tenant) -> list[str]:
    # Superusers approve too (portal.roles), though they need not be in the group.
    return list(
        get_user_model()
        .objects.filter(Q(groups__name=APPROVER_GROUP) | Q(is_superuser=True), is_active=True)
        .exclude(pk=tenant.owner_id)
        .values_list("email", flat=True)
    )


def notify_new_request(tenant_id: int) -> None:
    tenant = Tenant.objects.select_related("owner", "plan").get(pk=tenant_id)
    _send("new_request", tenant, _approvers(tenant))


def notify_decision(tenant_id: int) -> None:
    tenant = Tenant.objects.select_related("owner", "plan").get(pk=tenant_id)
    template = "approved" if tenant.state != Tenant.State.REJECTED else "rejected"
    _send(template, tenant, _requester(tenant))


def notify_ready(tenant_id: int) -> None:
    tenant = Tenant.objects.select_related("owner", "plan").get(pk=tenant_id)
    _send("ready", tenant, _requester(tenant))


def notify_failed(tenant_id: int) -> None:
    """The requester reads what happened in words; the approvers, who act on it, the detail."""
    tenant = Tenant.objects.select_related("owner", "plan", "decided_by").get(pk=tenant_id)
    _send("failed", tenant, _requester(tenant), failure=failure_for(tenant))
    _send("failed_admin", tenant, _approvers(tenant))
