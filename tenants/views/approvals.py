"""The approval screens: the queue of pending requests and the decision on one."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from portal import ratelimit, roles
from portal.errors import ApplicationError
from provisioning.capacity import plan_capacity_hint
from tenants import customhosts, selectors, services
from tenants.forms import RejectForm
from tenants.models import Tenant
from tenants.views.base import ApproverRequiredMixin, _page, _worker_warning
from tenants.views.context import _conversation_context, _host_rows


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
            # What approving would claim: only while there is an approval to make.
            "capacity": plan_capacity_hint(tenant.plan)
            if tenant.state == Tenant.State.REQUESTED
            else None,
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
