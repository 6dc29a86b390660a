"""A tenant's end and return: deleting it, cancelling that, building a deleted one again."""

from django.conf import settings
from django.contrib import messages
from django.shortcuts import render

from tenants import deletion, recreate, selectors, services
from tenants.confirmation import confirmation_problem
from tenants.models import Tenant
from tenants.views.base import _TenantActionView


class TenantRecreateView(_TenantActionView):
    """A deleted tenant built again and filled from its final backup (platform admins)."""

    def act(self, request, tenant):
        item = recreate.tenant_recreate(tenant=tenant, actor=request.user)
        messages.success(
            request,
            f"{tenant.slug} is being built again; then the backup of {item} is restored into it.",
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
