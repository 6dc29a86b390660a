"""The list endpoints' query parameters, checked: a value no filter knows is a 400 naming the
parameter and what it takes, never an empty list that reads as "you have none"."""

from django.utils.text import Truncator
from rest_framework import serializers

from provisioning.models import Run
from tenants import selectors
from tenants.models import AuditEvent, Plan

# The list page's `sort` names, so a script sorts as a link does; api.views maps them to fields.
SORT_CHOICES = list(selectors.LIST_SORTS)


def _unknown(name: str, value: str, allowed) -> serializers.ValidationError:
    shown = Truncator(value).chars(40)
    return serializers.ValidationError(
        f"Unknown {name} “{shown}”; use one of: {', '.join(allowed)}."
    )


class KnownChoiceField(serializers.ChoiceField):
    """A choice whose refusal names the parameter and every value it takes."""

    def __init__(self, choices, **kwargs):
        super().__init__(choices, required=False, allow_blank=True, **kwargs)

    def to_internal_value(self, data):
        if data == "" or data in self.choice_strings_to_values:
            return data
        raise _unknown(self.field_name, data, self.choices)


def _text(help_text: str) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, help_text=help_text)


class ListParams(serializers.Serializer):
    """Read from the query string: each declared parameter once, a NUL dropped (PostgreSQL
    refuses one and none is ever meant), blank meaning "not filtered"."""

    def to_internal_value(self, data):
        given = {name: data.get(name, "").replace("\x00", "").strip() for name in self.fields}
        return super().to_internal_value(given)


class TenantListParams(ListParams):
    state = KnownChoiceField(selectors.LIST_STATES)
    plan = _text("A plan's name (as /api/v1/plans/ lists them).")
    owner = _text("Owner's user name (admins, auditors).")
    q = _text("Part of the name, title or host.")
    sort = KnownChoiceField(SORT_CHOICES, help_text="Newest first if not given.")

    def validate_plan(self, value: str) -> str:
        names = list(Plan.objects.values_list("name", flat=True))
        if value and value not in names:
            raise _unknown("plan", value, names)
        return value


class RunListParams(ListParams):
    status = KnownChoiceField(Run.Status.values)


class AuditEventListParams(ListParams):
    action = KnownChoiceField(AuditEvent.Action.values)
    object_type = _text("The object's model name, e.g. tenant or plan.")
    object_id = _text("The object's id.")
    request_id = _text("The request that did it.")
    actor_name = _text("Who did it, as recorded.")


def read(params: type[ListParams], request) -> dict[str, str]:
    """The request's parameters of this list, checked (a ValidationError: the API's 400)."""
    checked = params(data=request.query_params)
    checked.is_valid(raise_exception=True)
    return checked.validated_data
