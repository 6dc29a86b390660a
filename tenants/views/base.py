"""Shared by the tenant pages: who may act, the action view's shape, paging, form errors."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.views import View

from portal import heartbeat, ratelimit, roles
from portal.errors import ApplicationError
from tenants import selectors


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


def _worker_warning(request) -> str:
    return heartbeat.worker_words(for_admin=roles.is_approver(request.user))


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
