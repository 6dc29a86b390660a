"""The tenant list: its filters and the orders it may be sorted by."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import render
from django.views import View

from portal import roles
from tenants import selectors
from tenants.models import Plan, Tenant
from tenants.views.base import _page

SORTS = {
    "name": "slug",
    "-name": "-slug",
    "state": "state",
    "-state": "-state",
    "plan": "plan__sort_order",
    "-plan": "-plan__sort_order",
    "created": "created_at",
    "-created": "-created_at",
    "owner": "owner__username",
    "-owner": "-owner__username",
}


class TenantListView(LoginRequiredMixin, View):
    def get(self, request):
        # PostgreSQL refuses NUL in a string literal (a 500); a NUL is never meant, so drop it.
        filters = {
            k: request.GET.get(k, "").replace("\x00", "").strip()
            for k in ("state", "plan", "owner", "q")
        }
        # Rejected, withdrawn and deleted tenants only clutter the list unless asked for.
        filters["gone"] = "1" if request.GET.get("gone") else ""
        sort = request.GET.get("sort", "")
        sort = sort if sort in SORTS else "-created"  # links only ever carry a known order
        qs = selectors.tenant_list(
            user=request.user, **{**filters, "gone": bool(filters["gone"])}
        ).order_by(SORTS[sort], "-id")
        return render(
            request,
            "tenants/list.html",
            {
                "page": _page(request, qs),
                "filters": filters,
                "sort": sort,
                "states": [*Tenant.State.choices, ("withdrawn", "Withdrawn")],
                "plans": Plan.objects.all(),
                "sees_all": roles.sees_all_tenants(request.user),
            },
        )
