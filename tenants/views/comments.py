"""The conversation on a tenant request: comments and admins' notes."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View

from portal import ratelimit, roles
from portal.errors import ApplicationError
from tenants import comments, selectors
from tenants.views.base import ActorMixin
from tenants.views.context import _detail_context


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
