"""Change-list input the database would refuse is dropped with a message, never a 500."""

import datetime

from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR, TO_FIELD_VAR
from django.contrib.admin.views.main import (
    ALL_VAR,
    ERROR_FLAG,
    IS_FACETS_VAR,
    ORDER_VAR,
    PAGE_VAR,
    SEARCH_VAR,
)
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.core.validators import validate_ipv46_address
from django.db import models
from django.http import HttpResponseRedirect

# Parameters the change list reads itself (paging, ordering, search): Django copes with odd
# values there except a NUL byte, which PostgreSQL refuses in any text.
_OWN_PARAMS = {ALL_VAR, ORDER_VAR, PAGE_VAR, SEARCH_VAR, ERROR_FLAG, IS_FACETS_VAR, IS_POPUP_VAR}
_OWN_PARAMS |= {TO_FIELD_VAR, "_changelist_filters"}
# Date parts and their ranges (Django's date hierarchy builds a datetime from them).
_DATE_PARTS = {"year": (1, 9999), "month": (1, 12), "day": (1, 31)}
# PostgreSQL's bigint, the widest integer column.
_INT_RANGE = (-(2**63), 2**63 - 1)


def _resolve(model, key: str):
    """The field a filter parameter names and the lookup after it (field None: not a field)."""
    parts = key.split("__")
    field = None
    for index, part in enumerate(parts):
        if field is not None:
            if not field.is_relation or field.related_model is None:
                return field, "__".join(parts[index:])
            model = field.related_model
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return field, "__".join(parts[index:])
    return field, ""


def _valid_value(field, lookup: str, value: str) -> bool:
    lookup = lookup.split("__")[0]
    if lookup in _DATE_PARTS:
        low, high = _DATE_PARTS[lookup]
        try:
            return low <= int(value) <= high
        except ValueError:
            return False
    if lookup == "isnull":
        return value.lower() in ("true", "false", "1", "0")
    if lookup == "in":
        return all(_valid_value(field, "exact", item) for item in value.split(","))
    if lookup in ("contains", "icontains", "startswith", "istartswith", "endswith", "iendswith"):
        return True
    try:
        python = field.to_python(value)
        if isinstance(field, models.GenericIPAddressField) and python:
            validate_ipv46_address(python)
        if isinstance(field, models.IntegerField | models.AutoField) and python is not None:
            return _INT_RANGE[0] <= python <= _INT_RANGE[1]
    except (ValidationError, ValueError, TypeError, OverflowError):
        return False
    return True


def invalid_params(model_admin, params) -> list[str]:
    """Names of the change list's query parameters whose values no query could use."""
    bad = []
    for key, values in params.lists():
        if "\x00" in key or any("\x00" in value for value in values):
            bad.append(key)
            continue
        if key in _OWN_PARAMS:
            continue
        field, lookup = _resolve(model_admin.model, key)
        if field is not None and not all(_valid_value(field, lookup, v) for v in values):
            bad.append(key)
    bad += _impossible_date(model_admin, params, bad)
    return bad


def _impossible_date(model_admin, params, bad: list[str]) -> list[str]:
    """The date hierarchy's day when year, month and day name no date (February 30)."""
    name = model_admin.date_hierarchy
    keys = [f"{name}__{part}" for part in ("year", "month", "day")] if name else []
    if not keys or any(k in bad or k not in params for k in keys):
        return []
    try:
        datetime.date(*(int(params[k]) for k in keys))
    except ValueError:
        return [keys[2]]
    return []


class SafeChangeListMixin:
    """Drops the filter values and selected ids of a change list that no query could use."""

    def changelist_view(self, request, extra_context=None):
        bad = invalid_params(self, request.GET)
        if bad:
            for key in bad:
                shown = key.replace("\x00", "\\x00")
                messages.warning(request, f"Ignored {shown}: not a valid filter value.")
            query = request.GET.copy()
            for key in bad:
                query.pop(key, None)
            return HttpResponseRedirect(f"{request.path}?{query.urlencode()}")
        if request.method == "POST" and admin.helpers.ACTION_CHECKBOX_NAME in request.POST:
            request.POST = _with_valid_selection(self.model, request.POST)
        return super().changelist_view(request, extra_context)


def _with_valid_selection(model, post):
    """The POST with only the selected ids that are valid primary keys (Django then says
    "Items must be selected" when none is left)."""
    post = post.copy()
    name = admin.helpers.ACTION_CHECKBOX_NAME
    pk = model._meta.pk
    post.setlist(
        name, [v for v in post.getlist(name) if "\x00" not in v and _valid_value(pk, "", v)]
    )
    return post


def protect(model_admin: admin.ModelAdmin) -> None:
    """Gives one registered admin the mixin, keeping its class otherwise as it is."""
    cls = type(model_admin)
    if not isinstance(model_admin, SafeChangeListMixin):
        # Same name and module, so the admin's views still read as the app's own.
        namespace = {"__module__": cls.__module__, "__qualname__": cls.__qualname__}
        model_admin.__class__ = type(cls.__name__, (SafeChangeListMixin, cls), namespace)


def protect_all(site: admin.AdminSite) -> None:
    """Every admin on the site, the portal's and the libraries' (users, groups, allauth's)."""
    for model_admin in site._registry.values():
        protect(model_admin)
