"""Filing a tenant request, and sending a rejected one again after editing it."""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from portal import ratelimit
from portal.errors import ApplicationError
from tenants import selectors, services
from tenants.forms import TenantRequestForm
from tenants.models import Tenant
from tenants.validation import default_host
from tenants.views.base import ActorMixin, _add_errors


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

    def _not_rejected(self, request, tenant: Tenant):
        """The tenant's page, saying why, for a request no longer rejected (a stale tab)."""
        messages.info(request, "Only a rejected request can be edited and sent again.")
        return redirect(tenant)

    def get(self, request, pk: int):
        tenant = self._tenant(request, pk)
        if tenant.state != Tenant.State.REJECTED:
            return self._not_rejected(request, tenant)
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
        if tenant.state != Tenant.State.REJECTED:
            # Before the form: its errors would come back under "an admin rejected this".
            return self._not_rejected(request, tenant)
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
