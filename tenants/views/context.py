"""What the tenant's page shows: the context its views and the forms on it share."""

from django.conf import settings
from django.utils import timezone

from portal import roles
from provisioning.health import tenant_health
from provisioning.tenanturl import tenant_url
from provisioning.waiting import tenant_waiting
from tenants import (
    backups,
    backupschedule,
    customhosts,
    deletion,
    failures,
    hostproof,
    plans,
    recreate,
    selectors,
    upgrade,
)
from tenants.forms import BackupScheduleForm
from tenants.models import Tenant
from tenants.views.base import _worker_warning


def _conversation_context(request, tenant: Tenant) -> dict:
    admin = roles.is_approver(request.user)
    notes = roles.sees_all_tenants(request.user)
    return {
        "conversation": selectors.tenant_conversation(tenant, admin_notes=notes)[:200],
        "may_comment": admin or tenant.owner_id == request.user.pk,
        "may_note": admin,
    }


def _host_rows(tenant: Tenant) -> list[dict]:
    """Each custom host with the TXT record that proves it, for the page."""
    return [
        {
            "row": row,
            "own": row.name == tenant.host,
            "record": hostproof.proof_name(row.name),
            "value": hostproof.proof_value(tenant.pk, row.name),
        }
        for row in customhosts.hosts_of(tenant)
    ]


def _backups_context(request, tenant: Tenant) -> dict:
    """The backups section: its list, the schedule's alert, the last proven test restore, and
    polling while a backup or a restore runs."""
    rows = list(tenant.backups.all()[:10])
    backing_up = any(b.state == b.State.RUNNING for b in rows)
    running = tenant.restoring or backing_up
    return {
        "tenant": tenant,
        "backups": rows,
        # One backup at a time: no button that could only be refused while one runs.
        "backup_running": backing_up,
        "backup_overdue": backupschedule.backup_overdue(tenant),
        "proven_restore": backups.last_proven_restore(tenant),
        "failed_restore_test": backups.last_failed_restore_test(tenant),
        "backups_poll": "2s" if running else None,
        # Plan mode has no MariaDB and S3: no button that could only be refused.
        "backups_offered": backups.backups_offered(),
        "can_act": not roles.is_auditor(request.user),
        "is_approver": roles.is_approver(request.user),
        "is_owner": tenant.owner_id == request.user.pk,
    }


def _schedule_context(request, tenant: Tenant, form=None) -> dict:
    """The backup schedule's section: what the beat follows, when next, and the form to change
    it (the owner's or a platform admin's, on a ready tenant)."""
    last = backups.last_good_backup(tenant)
    initial = {
        "frequency": tenant.backup_frequency,
        "hour": tenant.backup_hour,
        "weekday": tenant.backup_weekday,
    }
    offered = backups.backups_offered()
    next_at = (
        backupschedule.next_backup_at(tenant, last and last.created_at)
        if offered and tenant.state == Tenant.State.READY and tenant.desired_present
        else None
    )
    return {
        "schedule_words": backupschedule.schedule_words(tenant),
        "next_backup_at": next_at,
        # A tenant without a good backup is due since it was made: "now", not that past time.
        "next_backup_due": next_at is not None and next_at <= timezone.now(),
        "backups_offered": offered,
        "schedule_form": form if form is not None else BackupScheduleForm(initial=initial),
        "may_schedule": not roles.is_auditor(request.user)
        and (tenant.owner_id == request.user.pk or roles.is_approver(request.user))
        and tenant.state == Tenant.State.READY
        and tenant.desired_present,
    }


def _detail_context(request, tenant: Tenant) -> dict:
    run = selectors.tenant_current_run(tenant)
    # An upgrade is under way from its request (its backup first, then the run it starts), a
    # restore, a clone's filling or a promote until the worker is done: the facts and actions
    # they change (the version, "content copied", "Promote…") follow by the same poll.
    live = (
        tenant.is_busy
        or (run is not None and run.is_open)
        or bool(tenant.upgrade_to)
        or tenant.restoring
    )
    steps = list(run.steps.all()) if run else []
    if roles.sees_all_tenants(request.user):
        plans.attach_plans(tenant.slug, steps)  # plan mode's output, readable by admins
    return {
        "tenant": tenant,
        "tenant_url": tenant_url(tenant, "/"),
        "history": selectors.tenant_history(
            tenant, admin_notes=roles.sees_all_tenants(request.user)
        )[:50],
        "run": run,
        "steps": steps,
        # A step tried again by itself (a passing outside problem) said in words for everyone.
        "retrying": failures.retrying_words(steps),
        # The content pipeline section reads its step's outcome (provisioning/steps/pipeline.py).
        "pipeline_step": next((s for s in steps if s.name == "pipeline"), None),
        "drift": selectors.tenant_last_drift_check(tenant),
        "health": tenant_health(tenant),
        # Held back by an outside system that is down (not failed): which, since when.
        "waiting": tenant_waiting(tenant),
        # Requesters read a failure in words; the step's own error stays for admins and auditors.
        "failure": failures.failure_for(tenant),
        "sees_detail": roles.sees_all_tenants(request.user),
        "worker_warning": _worker_warning(request),
        **_conversation_context(request, tenant),
        "live": live,
        # Quick while something is being built; slower while the request waits for a decision.
        "poll": "2s" if live else ("5s" if tenant.state == Tenant.State.REQUESTED else None),
        "can_act": not roles.is_auditor(request.user),
        "is_approver": roles.is_approver(request.user),
        "is_owner": tenant.owner_id == request.user.pk,
        "upgrade_versions": upgrade.versions_above(tenant.wordpress_version),
        **_backups_context(request, tenant),
        **_schedule_context(request, tenant),
        "teardown": selectors.tenant_teardown_report(tenant),
        # A deletion that is due yet kept the tenant: why (its final backup failed).
        "deletion_due": deletion.deletion_due(tenant),
        "deletion_held": deletion.deletion_held_by(tenant),
        # What a deleted tenant can come back from, while its plan's retention keeps it.
        "recreate_from": (
            recreate.recreate_backup(tenant)
            if tenant.state == Tenant.State.DELETED and not tenant.is_withdrawn
            else None
        ),
        "members": list(tenant.members.all()),
        "custom_hosts": _host_rows(tenant),
        # Where a custom host points: a CNAME to the platform's own host of the site, or else
        # the platform's address.
        "point_cname": "" if customhosts.is_custom(tenant) else tenant.host,
        "point_ip": settings.PORTAL_IONOS_DNS_TARGET,
        "clones": list(tenant.clones.filter(state__in=Tenant.LIVE_STATES)),
        "manages_members": (
            (tenant.owner_id == request.user.pk or roles.is_approver(request.user))
            and tenant.is_live
            and tenant.desired_present
        ),
        # Platform admins and auditors read the whole trail in the Django admin.
        "sees_audit": request.user.is_staff and request.user.has_perm("tenants.view_auditevent"),
    }
