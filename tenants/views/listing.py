"""The tenant list: its filters and the orders it may be sorted by."""

import re

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import render
from django.views import View

from portal import roles
from tenants import selectors
from tenants.models import Plan, Tenant
from tenants.views.base import _page

SORTS = selectors.LIST_SORTS
DEFAULT_SORT = "-created"
PLAIN = re.compile(r"[\w.-]{1,40}")


def _known(request, name: str, value: str, allowed, instead: str) -> str:
    """The value if the list knows it; else "" and a sentence saying what is shown instead,
    so a typed or stale link never reads as an empty list ("no tenants")."""
    if not value or value in allowed:
        return value
    # Named back only when it reads as a name: markup-like input is never reflected.
    shown = f" “{value}”" if PLAIN.fullmatch(value) else ""
    messages.warning(request, f"Unknown {name}{shown}; showing {instead}.")
    return ""


class TenantListView(LoginRequiredMixin, View):
    def get(self, request):
        # PostgreSQL refuses NUL in a string literal (a 500); a NUL is never meant, so drop it.
        filters = {
            k: request.GET.get(k, "").replace("\x00", "").strip()
            for k in ("state", "plan", "owner", "q")
        }
        plans = list(Plan.objects.all())
        filters["state"] = _known(
            request, "state", filters["state"], selectors.LIST_STATES, "tenants in every state"
        )
        filters["plan"] = _known(
            request, "plan", filters["plan"], {p.name for p in plans}, "tenants on every plan"
        )
        # Rejected, withdrawn and deleted tenants only clutter the list unless asked for.
        filters["gone"] = "1" if request.GET.get("gone") else ""
        sort = request.GET.get("sort", "").replace("\x00", "").strip()
        sort = _known(request, "sort", sort, SORTS, "the newest first") or DEFAULT_SORT
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
                "plans": plans,
                "sees_all": roles.sees_all_tenants(request.user),
            },
        )
