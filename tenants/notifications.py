"""E-mails to requesters and approvers: by a worker after commit, once per event, links absolute."""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from portal.roles import APPROVER_GROUP
from provisioning.tenanturl import tenant_url
from tenants import customhosts, hostproof
from tenants.failures import failure_for
from tenants.models import AuditEvent, MailSent, Tenant

log = logging.getLogger(__name__)
Action = AuditEvent.Action


class _NotSent(Exception):
    """Rolls back the mark of a mail that could not be sent, so a later try sends it."""


class MailNotSent(Exception):
    """A mail the server didn't take; the worker's task tries again later (tenants.tasks)."""


def portal_link(path: str) -> str:
    # A mail has no request to build a link from: the portal's address comes from settings.
    return settings.PORTAL_URL + path


def _send(template: str, tenant: Tenant, recipients: list[str], **extra) -> bool:
    recipients = sorted({r for r in recipients if r})
    if not recipients:
        return True
    context = {
        "tenant": tenant,
        "tenant_url": tenant_url(tenant, "/"),
        "page_url": portal_link(tenant.get_absolute_url()),
        **extra,
    }
    subject = render_to_string(f"emails/{template}_subject.txt", context).strip()
    body = render_to_string(f"emails/{template}.txt", context)
    try:
        send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    except Exception:
        # Mail trouble must not undo or block the action that was already committed.
        log.exception("could not send %s mail for tenant %s", template, tenant.slug)
        return False
    return True


def _event(tenant: Tenant, *actions: str) -> AuditEvent | None:
    events = AuditEvent.objects.filter(object_type="tenant", object_id=str(tenant.pk))
    return events.filter(action__in=actions).order_by("-id").first()


def _send_once(
    template: str,
    event: AuditEvent | None,
    tenant: Tenant,
    recipients,
    kind: str = "",
    strict: bool = False,
    **extra,
):
    """Send unless this mail (`kind`, default the template) already went out for this event:
    a repeated task or a second call sends nothing."""
    if event is None:  # nothing on record to tell it by: send, as before the trail existed
        if not _send(template, tenant, recipients, **extra) and strict:
            raise MailNotSent(f"the {template} mail for tenant {tenant.slug}")
        return
    try:
        with transaction.atomic():
            _, created = MailSent.objects.get_or_create(event_id=event.pk, kind=kind or template)
            if created and not _send(template, tenant, recipients, **extra):
                raise _NotSent
    except _NotSent:
        if strict:  # a task that retries: tell it
            raise MailNotSent(f"the {template} mail for tenant {tenant.slug}") from None


def _tenant(tenant_id: int) -> Tenant:
    return Tenant.objects.select_related("owner", "plan", "decided_by").get(pk=tenant_id)


def _requester(tenant: Tenant) -> list[str]:
    """The account's address and the one given on the request as the site's admin e-mail."""
    return [tenant.owner.email, tenant.admin_email]


def _approvers(tenant: Tenant) -> list[str]:
    """The approvers' accounts (an approver's own request aside) and PORTAL_ADMIN_EMAILS: an
    admin made without an e-mail address (README, roles without Authentik) still hears."""
    # Superusers approve too (portal.roles), though they need not be in the group.
    accounts = (
        get_user_model()
        .objects.filter(Q(groups__name=APPROVER_GROUP) | Q(is_superuser=True), is_active=True)
        .exclude(pk=tenant.owner_id)
        .values_list("email", flat=True)
    )
    return [*accounts, *settings.PORTAL_ADMIN_EMAILS]


def notify_new_request(tenant_id: int, strict: bool = False) -> None:
    tenant = _tenant(tenant_id)
    event = _event(tenant, Action.TENANT_REQUESTED, Action.TENANT_RESUBMITTED)
    approval_url = portal_link(reverse("tenants:approval", args=[tenant.pk]))
    approvers = _approvers(tenant)
    proof = _host_proof(tenant)
    _send_once(
        "new_request",
        event,
        tenant,
        approvers,
        strict=strict,
        approval_url=approval_url,
        host_proof=proof,
    )
    _send_once("received", event, tenant, _requester(tenant), strict=strict, host_proof=proof)


def _host_proof(tenant: Tenant) -> dict | None:
    """The TXT record a request's own custom host waits for, to put in the mails."""
    if not customhosts.primary_unproven(tenant):
        return None
    return {
        "record": hostproof.proof_name(tenant.host),
        "value": hostproof.proof_value(tenant.pk, tenant.host),
    }


def notify_decision(tenant_id: int, strict: bool = False) -> None:
    tenant = _tenant(tenant_id)
    template = "approved" if tenant.state != Tenant.State.REJECTED else "rejected"
    event = _event(tenant, Action.TENANT_APPROVED, Action.TENANT_REJECTED)
    resubmit_url = portal_link(reverse("tenants:resubmit", args=[tenant.pk]))
    to = _requester(tenant)
    _send_once(template, event, tenant, to, strict=strict, resubmit_url=resubmit_url)


def notify_ready(tenant_id: int, strict: bool = False) -> None:
    """Ready is news after the first build or a failure, not after a reconcile of a ready site."""
    tenant = _tenant(tenant_id)
    ended = AuditEvent.objects.filter(
        object_type="tenant",
        object_id=str(tenant.pk),
        action__in=[Action.TENANT_READY, Action.TENANT_FAILED],
    ).order_by("-id")[:2]
    ended = list(ended)
    if len(ended) == 2 and ended[0].action == ended[1].action == Action.TENANT_READY:
        return
    _send_once("ready", ended[0] if ended else None, tenant, _requester(tenant), strict=strict)


def notify_failed(tenant_id: int, strict: bool = False) -> None:
    """The requester reads what happened in words; the approvers, who act on it, the detail."""
    tenant = _tenant(tenant_id)
    event = _event(tenant, Action.TENANT_FAILED)
    failure = failure_for(tenant)
    _send_once("failed", event, tenant, _requester(tenant), strict=strict, failure=failure)
    _send_once("failed_admin", event, tenant, _approvers(tenant), strict=strict)


def notify_comment(event_id: int, strict: bool = False) -> None:
    """A requester's comment goes to the admins; an admin's to the requester (a note, to the
    other admins only). The author is never mailed their own words."""
    event = AuditEvent.objects.get(pk=event_id)
    tenant = _tenant(int(event.object_id))
    if event.action == Action.TENANT_NOTED or event.actor_id != tenant.owner_id:
        to = _approvers(tenant) if event.action == Action.TENANT_NOTED else _requester(tenant)
    else:
        to = _approvers(tenant)
    author = get_user_model().objects.filter(pk=event.actor_id).first()
    if author is not None and author.email in to:
        to = [address for address in to if address != author.email]
    _send_once("comment", event, tenant, to, strict=strict, comment=event)


def _waited(tenant: Tenant, now) -> tuple[AuditEvent | None, int]:
    """The request's filing (or resubmission) and how many whole days it has waited since."""
    event = _event(tenant, Action.TENANT_REQUESTED, Action.TENANT_RESUBMITTED)
    return event, (now - event.created_at).days if event is not None else 0


def notify_waiting_requests(now=None) -> int:
    """Remind the approvers of each request waiting PORTAL_REMINDER_DAYS or more: once per
    that many days it waits (the beat runs this hourly), each reminder a mail task of its own.
    Returns how many were reminded of."""
    every = settings.PORTAL_REMINDER_DAYS
    if every <= 0:
        return 0
    now = now or timezone.now()
    reminded = 0
    for tenant in Tenant.objects.filter(state=Tenant.State.REQUESTED).select_related("owner"):
        event, waited = _waited(tenant, now)
        if event is None or waited < every:
            continue
        send_later("reminder", tenant.pk, waited, waited // every)
        reminded += 1
    return reminded


def notify_reminder(tenant_id: int, days: int, period: int, strict: bool = False) -> None:
    """The approvers' reminder of a request that has waited `days`: once per `period` (the
    days' count in PORTAL_REMINDER_DAYS), however often it is sent."""
    tenant = _tenant(tenant_id)
    if tenant.state != Tenant.State.REQUESTED:  # decided while the reminder was on its way
        return
    event, _ = _waited(tenant, timezone.now())
    approval_url = portal_link(reverse("tenants:approval", args=[tenant.pk]))
    _send_once(
        "reminder",
        event,
        tenant,
        _approvers(tenant),
        kind=f"reminder-{period}",
        strict=strict,
        days=days,
        approval_url=approval_url,
    )


# Every mail, by name: a worker's task sends it (tenants.tasks.send_notice), never a web
# request or the engine's lease, so a slow or absent mail server never slows a page.
NOTICES = {
    "new_request": notify_new_request,
    "decision": notify_decision,
    "comment": notify_comment,
    "reminder": notify_reminder,
    "ready": notify_ready,
    "failed": notify_failed,
}


def send_later(kind: str, *args) -> None:
    """Hand the mail to a worker now (callers outside a transaction, as the beat's tasks)."""
    from tenants.tasks import send_notice

    try:
        send_notice.delay(kind, *args)
    except Exception:
        # The broker refused even Celery's publish retries: the action the mail tells of is
        # already committed, and a page must not fail over its mail.
        log.exception("could not queue the %s mail for %s", kind, args)


def queue_notice(kind: str, *args) -> None:
    """Hand the mail to a worker once the caller's transaction commits."""
    transaction.on_commit(lambda: send_later(kind, *args))
