"""Changing a tenant's plan, and an admin's decision on a larger one asked for."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render

from portal import ratelimit, roles
from portal.errors import ApplicationError
from provisioning.capacity import plan_capacity_hint
from tenants import plan_change, selectors
from tenants.forms import PlanChangeForm
from tenants.views.base import _add_errors, _TenantActionView


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
