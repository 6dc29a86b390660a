"""Who may sign in to a tenant's site: adding and removing members."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views import View

from portal import ratelimit
from portal.errors import ApplicationError
from tenants import members, selectors
from tenants.views.base import ActorMixin, _TenantActionView
from tenants.views.context import _detail_context


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


class TenantMemberRemoveView(_TenantActionView):
    def act(self, request, tenant):
        member_id = request.POST.get("member", "")
        if not member_id.isdigit():
            raise ApplicationError("That person is no longer a member; reload the page.")
        members.member_remove(tenant=tenant, actor=request.user, member_id=int(member_id))
        messages.success(request, "Removed: they can't sign in to the site any more.")
