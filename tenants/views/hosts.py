"""A tenant's custom host names: adding, proving and removing them."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views import View

from portal import ratelimit
from portal.errors import ApplicationError
from tenants import customhosts, selectors
from tenants.views.base import ActorMixin, _TenantActionView
from tenants.views.context import _detail_context


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
