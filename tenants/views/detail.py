"""The tenant's page and the parts of it that htmx polls."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import render
from django.views import View

from tenants import selectors
from tenants.views.context import _backups_context, _detail_context


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
