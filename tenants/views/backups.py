"""A tenant's backups: taking one, the schedule, restoring one."""

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.views import View

from portal import ratelimit
from portal.errors import ApplicationError
from tenants import backups, backupschedule, selectors
from tenants.confirmation import confirmation_problem
from tenants.forms import BackupScheduleForm
from tenants.views.base import ActorMixin, _TenantActionView
from tenants.views.context import _detail_context, _schedule_context


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
