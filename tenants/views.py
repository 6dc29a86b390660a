"""Tenant pages: list, request, detail with live steps, actions, and the approval screens."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from portal import heartbeat, ratelimit, roles
from portal.errors import ApplicationError
from provisioning.capacity import plan_capacity_hint
from provisioning.health import tenant_health
from provisioning.tenanturl import tenant_url
from provisioning.waiting import tenant_waiting
from tenants import (
    backups,
    backupschedule,
    clone,
    comments,
    customhosts,
    deletion,
    failures,
    hostproof,
    members,
    pipeline,
    plan_change,
    plans,
    promote,
    recreate,
    selectors,
    services,
    suspension,
    upgrade,
)
from tenants.confirmation import confirmation_problem
from tenants.forms import (
    BackupScheduleForm,
    CloneForm,
    PlanChangeForm,
    RejectForm,
    TenantRequestForm,
)
from tenants.models import Plan, Tenant
from tenants.validation import default_host

SORTS = {
    "name": "slug",
    "-name": "-slug",
    "state": "state",
    "-state": "-state",
    "plan": "plan__sort_order",
    "-plan": "-plan__sort_order",
    "created": "created_at",
    "-created": "-created_at",
    "owner": "owner__username",
    "-owner": "-owner__username",
}


def _page(request, queryset):
    return Paginator(queryset, settings.PORTAL_PAGE_SIZE).get_page(request.GET.get("page"))


def _add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(
                None if field == "__all__" or field not in form.fields else field, errors
            )
    else:
        form.add_error(None, exc.messages)


class ApproverRequiredMixin(LoginRequiredMixin):
    """Approvers act; auditors may read (GET) too; requesters get 403."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        role = roles.role_of(request.user)
        if role == roles.Role.APPROVER or (role == roles.Role.AUDITOR and request.method == "GET"):
            return super().dispatch(request, *args, **kwargs)
        raise PermissionDenied


class ActorMixin(LoginRequiredMixin):
    """Pages that change something, forms included, are refused to auditors, who only read."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and roles.is_auditor(request.user):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)


class TenantListView(LoginRequiredMixin, View):
    def get(self, request):
        # PostgreSQL refuses NUL in a string literal (a 500); a NUL is never meant, so drop it.
        filters = {
            k: request.GET.get(k, "").replace("\x00", "").strip()
            for k in ("state", "plan", "owner", "q")
        }
        # Rejected, withdrawn and deleted tenants only clutter the list unless asked for.
        filters["gone"] = "1" if request.GET.get("gone") else ""
        sort = request.GET.get("sort", "")
        sort = sort if sort in SORTS else "-created"  # links only ever carry a known order
        qs = selectors.tenant_list(
            user=request.user, **{**filters, "gone": bool(filters["gone"])}
        ).order_by(SORTS[sort], "-id")
        return render(
            request,
            "tenants/list.html",
            {
                "page": _page(request, qs),
                "filters": filters,
                "sort": sort,
                "states": [*Tenant.State.choices, ("withdrawn", "Withdrawn")],
                "plans": Plan.objects.all(),
                "sees_all": roles.sees_all_tenants(request.user),
            },
        )


def _at_limit(request) -> str:
    """Said before the form is filled in, not only after it is sent: the per-person limit."""
    most = settings.PORTAL_MAX_TENANTS_PER_USER
    if selectors.live_tenant_count(request.user) < most:
        return ""
    return (
        f"You already have {most} open requests or tenants, the most one person may have: "
        "delete one or ask a platform admin before sending another request."
    )


class TenantRequestView(ActorMixin, View):
    template = "tenants/request.html"

    def get(self, request):
        form = TenantRequestForm(initial={"admin_email": request.user.email})
        return render(request, self.template, {"form": form, "at_limit": _at_limit(request)})

    def post(self, request):
        form = TenantRequestForm(request.POST, owner=request.user)
        if form.is_valid():
            try:
                ratelimit.limit_actions(request.user)
                ratelimit.limit_filing(request.user)
                tenant = services.tenant_request_submit(owner=request.user, **form.cleaned_data)
            except ratelimit.RateLimited as exc:
                # The form comes back as typed, to send again once the wait is over.
                form.add_error(None, exc.message)
                page = render(request, self.template, {"form": form}, status=429)
                return ratelimit.with_retry_after(page, exc)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(
                    request, f"Your request for {tenant.slug} was filed; an admin will decide."
                )
                return redirect(tenant)
        return render(request, self.template, {"form": form}, status=400)


class TenantResubmitView(ActorMixin, View):
    """A rejected request, edited by its requester and sent for a decision again."""

    template = "tenants/request.html"

    def _tenant(self, request, pk: int) -> Tenant:
        # Someone else's request answers 404, like the tenant pages do.
        return get_object_or_404(
            Tenant.objects.select_related("plan", "decided_by"), pk=pk, owner=request.user
        )

    def _render(self, request, tenant: Tenant, form, status: int = 200):
        context = {"form": form, "resubmit": tenant}
        return render(request, self.template, context, status=status)

    def get(self, request, pk: int):
        tenant = self._tenant(request, pk)
        if tenant.state != Tenant.State.REJECTED:
            messages.info(request, "Only a rejected request can be edited and sent again.")
            return redirect(tenant)
        initial = {
            "slug": tenant.slug,
            "display_name": tenant.display_name,
            "plan": tenant.plan_id,
            "wordpress_version": tenant.wordpress_version,
            "admin_email": tenant.admin_email,
            "host": "" if tenant.host == default_host(tenant.slug) else tenant.host,
            "content_pipeline": "on" if tenant.content_pipeline else "off",
        }
        return self._render(request, tenant, TenantRequestForm(initial=initial))

    def post(self, request, pk: int):
        tenant = self._tenant(request, pk)
        form = TenantRequestForm(request.POST, owner=request.user, exclude_pk=tenant.pk)
        if form.is_valid():
            try:
                ratelimit.limit_actions(request.user)
                tenant = services.tenant_request_resubmit(
                    tenant_id=tenant.pk, actor=request.user, **form.cleaned_data
                )
            except ratelimit.RateLimited as exc:
                # The edits come back as typed, to send once the wait is over.
                form.add_error(None, exc.message)
                page = self._render(request, tenant, form, status=429)
                return ratelimit.with_retry_after(page, exc)
            except ApplicationError as exc:
                messages.error(request, exc.message)
                return redirect(tenant)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, f"{tenant.slug} was sent again; an admin will decide.")
                return redirect(tenant)
        return self._render(request, tenant, form, status=400)


def _worker_warning(request) -> str:
    return heartbeat.worker_words(for_admin=roles.is_approver(request.user))


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
    return {
        "schedule_words": backupschedule.schedule_words(tenant),
        "next_backup_at": backupschedule.next_backup_at(tenant, last and last.created_at)
        if tenant.state == Tenant.State.READY and tenant.desired_present
        else None,
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


class TenantDetailView(LoginRequiredMixin, View):
    def get(self, request, pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        return render(request, "tenants/detail.html", _detail_context(request, tenant))


class TenantProgressView(LoginRequiredMixin, View):
    """The part of the detail page that htmx polls while a run is under way."""

    def get(self, request, pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        context = {**_detail_context(request, tenant), "oob": True}
        return render(request, "tenants/_progress.html", context)


class TenantBackupsView(LoginRequiredMixin, View):
    """The backups section, which htmx polls while a backup or a restore runs."""

    def get(self, request, pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        return render(request, "tenants/_backups.html", _backups_context(request, tenant))


class _TenantActionView(ActorMixin, View):
    def post(self, request, pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        try:
            ratelimit.limit_actions(request.user)
            self.act(request, tenant)
        except (ApplicationError, ValidationError) as exc:
            text = exc.message if isinstance(exc, ApplicationError) else " ".join(exc.messages)
            messages.error(request, text)
            return ratelimit.with_retry_after(redirect(tenant), exc)
        return redirect(tenant)


class TenantRetryView(_TenantActionView):
    def act(self, request, tenant):
        services.tenant_retry(tenant=tenant, actor=request.user)
        messages.success(request, "A new run was started; it skips what is already in place.")


class TenantReconcileView(_TenantActionView):
    def act(self, request, tenant):
        services.tenant_reconcile(tenant=tenant, actor=request.user)
        messages.success(request, "Reconcile started.")


class TenantSuspendView(_TenantActionView):
    def act(self, request, tenant):
        suspension.tenant_suspend(
            tenant=tenant, actor=request.user, reason=request.POST.get("reason", "")[:1000]
        )
        messages.success(request, f"{tenant.slug} is being suspended; its host shows a notice.")


class TenantResumeView(_TenantActionView):
    def act(self, request, tenant):
        suspension.tenant_resume(tenant=tenant, actor=request.user)
        messages.success(request, f"{tenant.slug} is being resumed.")


class TenantMemberAddView(ActorMixin, View):
    """Someone may sign in to the site: a wrong name comes back on the page, as typed."""

    def post(self, request, pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        username = request.POST.get("username", "")
        try:
            ratelimit.limit_actions(request.user)
            members.member_add(tenant=tenant, actor=request.user, username=username)
        except (ApplicationError, ValidationError) as exc:
            if isinstance(exc, ValidationError):
                error = " ".join(exc.message_dict.get("username", exc.messages))
            else:
                error = exc.message
            context = {
                **_detail_context(request, tenant),
                "member_error": error,
                "member_typed": username,
            }
            response = render(request, "tenants/detail.html", context, status=400)
            return ratelimit.with_retry_after(response, exc)
        messages.success(
            request, f"{username.strip()} may sign in to the site once Authentik has them."
        )
        return redirect(tenant)


class TenantHostAddView(ActorMixin, View):
    """A custom host to prove: a wrong name comes back on the page, as typed."""

    def post(self, request, pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        name = request.POST.get("name", "")[:300]
        try:
            ratelimit.limit_actions(request.user)
            row = customhosts.host_add(tenant=tenant, actor=request.user, name=name)
        except (ApplicationError, ValidationError) as exc:
            if isinstance(exc, ValidationError):
                error = " ".join(exc.message_dict.get("name", exc.messages))
            else:
                error = exc.message
            context = {**_detail_context(request, tenant), "host_error": error, "host_typed": name}
            response = render(request, "tenants/detail.html", context, status=400)
            return ratelimit.with_retry_after(response, exc)
        messages.success(
            request,
            f"{row.name} was added. Create the TXT record shown under “Host names”, then "
            "check it; the site answers on it once it is proven.",
        )
        return redirect(tenant)


class TenantHostCheckView(_TenantActionView):
    def act(self, request, tenant):
        name = request.POST.get("name", "")[:300]
        row, finding = customhosts.host_check(tenant=tenant, actor=request.user, name=name)
        if not finding.proven:
            messages.error(request, f"{row.name} is not proven yet. {finding.words}")
        elif row.name == tenant.host:
            messages.success(request, f"{row.name} is proven; a platform admin may approve now.")
        else:
            messages.success(request, f"{row.name} is proven; a run adds it to the site now.")


class TenantHostRemoveView(_TenantActionView):
    def act(self, request, tenant):
        name = customhosts.host_remove(
            tenant=tenant, actor=request.user, name=request.POST.get("name", "")[:300]
        )
        messages.success(request, f"{name} was removed; the site stops answering on it.")


class TenantCommentView(ActorMixin, View):
    """A comment (or an admins' note) on the request; a refused one comes back as typed."""

    def post(self, request, pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        text = request.POST.get("text", "")
        admins_only = bool(request.POST.get("admins_only"))
        try:
            ratelimit.limit_actions(request.user)
            comments.comment_add(
                tenant=tenant, actor=request.user, text=text, admins_only=admins_only
            )
        except (ApplicationError, ValidationError) as exc:
            if isinstance(exc, ValidationError):
                error = " ".join(exc.message_dict.get("text", exc.messages))
            else:
                error = exc.message
            context = {
                **_detail_context(request, tenant),
                "comment_error": error,
                "comment_typed": text,
            }
            response = render(request, "tenants/detail.html", context, status=400)
            return ratelimit.with_retry_after(response, exc)
        messages.success(request, "Note kept for admins." if admins_only else "Comment sent.")
        if request.POST.get("back") == "approval" and roles.is_approver(request.user):
            return redirect(reverse("tenants:approval", args=[tenant.pk]))
        return redirect(tenant)


class TenantMemberRemoveView(_TenantActionView):
    def act(self, request, tenant):
        member_id = request.POST.get("member", "")
        if not member_id.isdigit():
            raise ApplicationError("That person is no longer a member; reload the page.")
        members.member_remove(tenant=tenant, actor=request.user, member_id=int(member_id))
        messages.success(request, "Removed: they can't sign in to the site any more.")


class TenantPlanView(_TenantActionView):
    """Change plan: a smaller one applies at once; a larger one an admin applies (checked
    against capacity) or decides on, when the owner asks for it."""

    template = "tenants/change_plan.html"

    def _render(self, request, tenant, form, status: int = 200):
        context = {
            "tenant": tenant,
            "form": form,
            "is_approver": roles.is_approver(request.user),
            "capacity": plan_capacity_hint(tenant.requested_plan, replacing=tenant)
            if tenant.requested_plan
            else None,
        }
        return render(request, self.template, context, status=status)

    def get(self, request, pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        initial = {"plan": tenant.requested_plan_id or tenant.plan_id}
        return self._render(request, tenant, PlanChangeForm(initial=initial))

    def post(self, request, pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        if request.POST.get("decision") == "decline":
            return super().post(request, pk)
        form = PlanChangeForm(request.POST)
        if not form.is_valid():
            return self._render(request, tenant, form, status=400)
        try:
            ratelimit.limit_actions(request.user)
            outcome = plan_change.tenant_change_plan(
                tenant=tenant, actor=request.user, plan=form.cleaned_data["plan"]
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return ratelimit.with_retry_after(redirect(tenant), exc)
        except ValidationError as exc:
            _add_errors(form, exc)
            return self._render(request, tenant, form, status=400)
        plan = form.cleaned_data["plan"]
        tenant.refresh_from_db()
        if outcome == plan_change.REQUESTED:
            messages.success(
                request,
                f"A platform admin will decide on moving to {plan.title}. The usage rule: "
                f"{tenant.plan_evidence.get('verdict', '')}",
            )
        elif outcome == plan_change.RULE_APPLIED:
            messages.success(
                request,
                f"{tenant.slug} is moving to {plan.title}, approved by the usage rule. "
                f"{tenant.plan_evidence.get('verdict', '')}",
            )
        else:
            note = plan_change.volume_note(tenant, plan)
            messages.success(request, f"{tenant.slug} is moving to {plan.title}. {note}".strip())
        return redirect(tenant)

    def act(self, request, tenant):
        plan_change.tenant_plan_request_decline(tenant=tenant, actor=request.user)
        messages.success(request, "The larger plan was declined; the owner sees it.")


class TenantPipelineView(_TenantActionView):
    def act(self, request, tenant):
        on = request.POST.get("on") == "1"
        pipeline.tenant_pipeline_switch(tenant=tenant, actor=request.user, on=on)
        messages.success(
            request, f"The content pipeline is being switched {'on' if on else 'off'}."
        )


class TenantUpgradeView(_TenantActionView):
    def act(self, request, tenant):
        version = request.POST.get("version", "")[:20]
        upgrade.tenant_upgrade(tenant=tenant, actor=request.user, version=version)
        messages.success(
            request,
            f"{tenant.slug} is being upgraded to WordPress {version}; if the new version doesn't "
            "start, the old one comes back.",
        )


class TenantBackupView(_TenantActionView):
    def act(self, request, tenant):
        backups.backup_request(tenant=tenant, actor=request.user)
        messages.success(request, "A backup was started; it is listed below with its state.")


class TenantBackupScheduleView(ActorMixin, View):
    """The tenant's backup schedule: a refused one comes back on the page, as chosen, each
    field's mistake beside it and a refusal of the whole below the form."""

    def post(self, request, pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        form = BackupScheduleForm(request.POST)
        error = None
        try:
            ratelimit.limit_actions(request.user)
            if form.is_valid():
                tenant = backupschedule.tenant_backup_schedule_set(
                    tenant=tenant, actor=request.user, **form.cleaned_data
                )
        except ApplicationError as exc:
            error = exc
        if error is not None or form.errors:
            context = {
                **_detail_context(request, tenant),
                **_schedule_context(request, tenant, form),
                "schedule_error": error.message if error else "",
            }
            code = 429 if isinstance(error, ratelimit.RateLimited) else 400
            response = render(request, "tenants/detail.html", context, status=code)
            return ratelimit.with_retry_after(response, error)
        messages.success(request, f"Schedule saved. {backupschedule.schedule_words(tenant)}")
        return redirect(tenant)


class TenantRecreateView(_TenantActionView):
    """A deleted tenant built again and filled from its final backup (platform admins)."""

    def act(self, request, tenant):
        item = recreate.tenant_recreate(tenant=tenant, actor=request.user)
        messages.success(
            request,
            f"{tenant.slug} is being built again; then the backup of {item} is restored into it.",
        )


class TenantRestoreView(_TenantActionView):
    """Restoring overwrites the site: the user types the tenant's name on a page of its own."""

    template = "tenants/confirm_restore.html"

    def _backup(self, tenant, backup_pk: int):
        return get_object_or_404(tenant.backups, pk=backup_pk)

    def get(self, request, pk: int, backup_pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        context = {"tenant": tenant, "backup": self._backup(tenant, backup_pk)}
        return render(request, self.template, context)

    def post(self, request, pk: int, backup_pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        item = self._backup(tenant, backup_pk)
        typed = request.POST.get("confirm_slug", "")
        error = confirmation_problem(typed, tenant.slug)
        if error:
            context = {"tenant": tenant, "backup": item, "error": error, "typed": typed}
            return render(request, self.template, context, status=400)
        self.backup_pk = item.pk
        return super().post(request, pk)

    def act(self, request, tenant):
        item = backups.backup_restore_request(
            tenant=tenant, actor=request.user, backup_id=self.backup_pk
        )
        messages.success(request, f"Restoring the backup of {item}; this page shows how it goes.")


class TenantCloneView(ActorMixin, View):
    """Clone to staging: a new tenant, requested like any, filled from the original's backup."""

    template = "tenants/clone.html"

    def _render(self, request, tenant, form, status: int = 200):
        context = {"tenant": tenant, "form": form, "is_approver": roles.is_approver(request.user)}
        return render(request, self.template, context, status=status)

    def get(self, request, pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        initial = {"slug": clone.default_clone_slug(tenant)}
        return self._render(request, tenant, CloneForm(initial=initial, source=tenant))

    def post(self, request, pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        form = CloneForm(request.POST, source=tenant)
        if not form.is_valid():
            return self._render(request, tenant, form, status=400)
        data = form.cleaned_data
        try:
            # A clone is a new tenant: the same limits as a request.
            ratelimit.limit_actions(request.user)
            ratelimit.limit_filing(request.user)
            made = clone.tenant_clone(
                source=tenant,
                actor=request.user,
                slug=data["slug"],
                host=data["host"],
                backup_id=data["backup"],
            )
        except ratelimit.RateLimited as exc:
            form.add_error(None, exc.message)
            return ratelimit.with_retry_after(self._render(request, tenant, form, 429), exc)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect(tenant)
        except ValidationError as exc:
            _add_errors(form, exc)
            return self._render(request, tenant, form, status=400)
        messages.success(
            request,
            f"The clone {made.slug} of {tenant.slug} was requested: once a platform admin "
            "approves it, it is built and filled from the backup.",
        )
        return redirect(made)


class TenantPromoteView(ActorMixin, View):
    """Promoting overwrites the original: the user types the original's name on a page."""

    template = "tenants/confirm_promote.html"

    def get(self, request, pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        if tenant.clone_of is None:
            messages.error(request, "Only a clone can be promoted, and this tenant is no clone.")
            return redirect(tenant)
        return render(request, self.template, {"tenant": tenant, "original": tenant.clone_of})

    def post(self, request, pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        typed = request.POST.get("confirm_slug", "")
        try:
            ratelimit.limit_actions(request.user)
            promote.tenant_promote(tenant=tenant, actor=request.user, confirm_slug=typed)
        except ValidationError as exc:
            error = " ".join(exc.message_dict.get("confirm_slug", exc.messages))
            context = {"tenant": tenant, "original": tenant.clone_of, "error": error}
            return render(request, self.template, {**context, "typed": typed}, status=400)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return ratelimit.with_retry_after(redirect(tenant), exc)
        original = tenant.clone_of
        messages.success(
            request,
            f"Promoting {tenant.slug} into {original.slug}: a backup of each first; this page "
            "shows how it goes.",
        )
        return redirect(original)


class TenantFillAgainView(_TenantActionView):
    def act(self, request, tenant):
        clone.clone_fill_again(tenant=tenant, actor=request.user)
        messages.success(
            request, "Copying the original's content again; this page shows how it goes."
        )


class TenantCancelDeletionView(_TenantActionView):
    def act(self, request, tenant):
        deletion.tenant_cancel_deletion(tenant=tenant, actor=request.user)
        messages.success(request, f"{tenant.slug} stays; its deletion was cancelled.")


class TenantDeleteView(_TenantActionView):
    """Deletion asks first: the user types the tenant's name on a page of its own."""

    template = "tenants/confirm_delete.html"

    def get(self, request, pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        return render(request, self.template, self._context(tenant))

    def _context(self, tenant) -> dict:
        grace = deletion.deletion_has_grace(tenant)
        return {
            "tenant": tenant,
            "grace_days": settings.PORTAL_DELETE_GRACE_DAYS if grace else 0,
            "final_backup": deletion.deletion_saves(tenant),
        }

    def post(self, request, pk: int):
        tenant = selectors.tenant_get_for(request.user, pk)
        typed = request.POST.get("confirm_slug", "")
        error = confirmation_problem(typed, tenant.slug)
        if error:
            context = {**self._context(tenant), "error": error, "typed": typed}
            return render(request, self.template, context, status=400)
        return super().post(request, pk)

    def act(self, request, tenant):
        withdrawn = tenant.state == Tenant.State.REQUESTED
        tenant = services.tenant_delete(tenant=tenant, actor=request.user)
        if deletion.deletion_due(tenant):
            messages.success(
                request, f"{tenant.slug} is suspended and deleted once its final backup is taken."
            )
        elif tenant.delete_after is not None:
            messages.success(
                request,
                f"{tenant.slug} is suspended and will be deleted on "
                f"{tenant.delete_after:%Y-%m-%d %H:%M} UTC unless the deletion is cancelled.",
            )
        elif withdrawn:
            whose = "Your request" if tenant.owner_id == request.user.pk else "The request"
            messages.success(request, f"{whose} for {tenant.slug} was withdrawn.")
        else:
            messages.success(request, f"{tenant.slug} is being deleted.")


class ApprovalQueueView(ApproverRequiredMixin, View):
    """Pending requests, oldest first: whoever waited longest is decided first."""

    def get(self, request):
        page = _page(request, selectors.pending_requests())
        now = timezone.now()
        unproven = customhosts.unproven_among(page)
        pending = [(tenant, now - tenant.created_at, tenant.pk in unproven) for tenant in page]
        context = {"pending": pending, "page": page, "filters": {}, "sort": ""}
        context["worker_warning"] = _worker_warning(request)
        return render(request, "tenants/approvals.html", context)


class ApprovalDetailView(ApproverRequiredMixin, View):
    template = "tenants/approval_detail.html"

    def _context(self, request, tenant, reject_form=None):
        return {
            "tenant": tenant,
            "capacity": plan_capacity_hint(tenant.plan),
            "reject_form": reject_form or RejectForm(),
            "own_request": tenant.owner_id == request.user.pk,
            # The request's own custom host and its proof (None: the platform's default host).
            "host_proof": next((h for h in _host_rows(tenant) if h["own"]), None),
            "can_decide": roles.is_approver(request.user),
            "worker_warning": _worker_warning(request),
            "back": "approval",
            **_conversation_context(request, tenant),
        }

    def get(self, request, pk: int):
        tenant = get_object_or_404(Tenant.objects.select_related("plan", "owner"), pk=pk)
        return render(request, self.template, self._context(request, tenant))

    def post(self, request, pk: int):
        tenant = get_object_or_404(Tenant.objects.select_related("plan", "owner"), pk=pk)
        decision = request.POST.get("decision")
        try:
            ratelimit.limit_actions(request.user)
            if decision == "approve":
                services.tenant_approve(tenant_id=tenant.pk, actor=request.user)
                messages.success(
                    request,
                    f"Approved {tenant.slug}; provisioning starts now. Its steps show here as "
                    "they run.",
                )
                # To the tenant's page, to watch the build; the queue is a click away.
                return redirect(tenant)
            elif decision == "reject":
                reject_form = RejectForm(request.POST)
                if not reject_form.is_valid():
                    context = self._context(request, tenant, reject_form)
                    return render(request, self.template, context, status=400)
                services.tenant_reject(
                    tenant_id=tenant.pk, actor=request.user, **reject_form.cleaned_data
                )
                messages.success(request, f"Rejected {tenant.slug}; the requester was told.")
            else:
                raise ApplicationError("Choose approve or reject.")
        except (ApplicationError, ValidationError) as exc:
            text = exc.message if isinstance(exc, ApplicationError) else " ".join(exc.messages)
            messages.error(request, text)
            return ratelimit.with_retry_after(
                redirect(reverse("tenants:approval", args=[tenant.pk])), exc
            )
        return redirect(reverse("tenants:approvals"))
