"""Cursor pagination: stable pages while tenants are added, in the order the caller chose."""

from django.conf import settings
from rest_framework.pagination import CursorPagination


class PortalCursorPagination(CursorPagination):
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = ("-created_at", "-id")

    def get_page_size(self, request):
        self.page_size = settings.PORTAL_PAGE_SIZE
        return super().get_page_size(request)

    def get_ordering(self, request, queryset, view):
        # The view picks the order from its `sort` parameter (the pages' names for it).
        ordering = getattr(view, "cursor_ordering", None)
        return ordering(request) if ordering else self.ordering
