"""Cursor pagination: stable pages while tenants are added, in the order the caller chose."""

from django.conf import settings
from django.utils.text import Truncator
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination


class PortalCursorPagination(CursorPagination):
    page_size_query_param = "page_size"
    max_page_size = 200
    page_size_query_description = "Results per page, 1 or more (more than 200 gives 200)."
    ordering = ("-created_at", "-id")

    def get_page_size(self, request):
        self.page_size = settings.PORTAL_PAGE_SIZE
        # DRF quietly uses its default for a page_size it can't read: say so instead, as the
        # filters do, so a script's typo is not mistaken for the size it asked for.
        given = request.query_params.get(self.page_size_query_param, "").replace("\x00", "")
        if given.strip():
            try:
                wanted = int(given)
            except ValueError:
                wanted = 0
            if wanted < 1:
                shown = Truncator(given).chars(40)
                raise ValidationError(
                    {"page_size": [f"page_size “{shown}” is not a whole number of 1 or more."]}
                )
        return super().get_page_size(request)

    def get_ordering(self, request, queryset, view):
        # The view picks the order from its `sort` parameter (the pages' names for it).
        ordering = getattr(view, "cursor_ordering", None)
        return ordering(request) if ordering else self.ordering

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters
