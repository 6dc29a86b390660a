"""The admin's date drill-down without a SELECT DISTINCT over every row of the list."""

from datetime import datetime

from django.db.models import Exists, Max, Min, QuerySet
from django.utils import timezone

# The levels of Django's date hierarchy and how to step from one period to the next.
_KINDS = ("year", "month", "day")
# More periods than this between the first and the last row (a day drill-down over years)
# and the plain DISTINCT is asked instead: one query either way.
_MOST_PERIODS = 400


def _start(moment: datetime, kind: str) -> datetime:
    """The local start of the period holding `moment` (what DATE_TRUNC gives in the zone)."""
    local = timezone.localtime(moment)
    parts = {"year": (local.year, 1, 1), "month": (local.year, local.month, 1)}
    day = parts.get(kind, (local.year, local.month, local.day))
    return timezone.make_aware(datetime(*day))


def _next(start: datetime, kind: str) -> datetime:
    year, month, day = start.year, start.month, start.day
    if kind == "year":
        year += 1
    elif kind == "month":
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    else:
        return timezone.make_aware(datetime.fromordinal(start.toordinal() + 1))
    return timezone.make_aware(datetime(year, month, day))


class DrillDownQuerySet(QuerySet):
    """A changelist's rows whose `datetimes()` (all the date hierarchy asks of them) finds the
    periods holding rows by one EXISTS per period between the first and the last row — index
    lookups — instead of truncating and de-duplicating every row's date: at 100,000 audit
    events the DISTINCT was the list's slowest query (issue 14). Same periods, same order."""

    _date_range: dict | None = None

    def aggregate(self, *args, **kwargs):
        result = super().aggregate(*args, **kwargs)
        # The hierarchy's own first/last, asked just before: the range is not asked twice.
        self._date_range = result
        return result

    def datetimes(self, field_name, kind, order="ASC", tzinfo=None, is_dst=None):
        if kind not in _KINDS or tzinfo is not None or order != "ASC":
            return super().datetimes(field_name, kind, order, tzinfo)
        bounds = self._date_range or {}
        if not {"first", "last"} <= bounds.keys():
            bounds = self.aggregate(first=Min(field_name), last=Max(field_name))
        if bounds["first"] is None or bounds["last"] is None:
            return []
        periods, start = [], _start(bounds["first"], kind)
        while start <= bounds["last"]:
            end = _next(start, kind)
            periods.append((start, end))
            start = end
            if len(periods) > _MOST_PERIODS:
                return super().datetimes(field_name, kind, order, tzinfo)
        rows = self.order_by().values_list("pk", flat=True)
        flags = {
            f"p{i}": Exists(rows.filter(**{f"{field_name}__gte": a, f"{field_name}__lt": b}))
            for i, (a, b) in enumerate(periods)
        }
        found = self.order_by().annotate(**flags).values(*flags).first() or {}
        return [a for i, (a, _) in enumerate(periods) if found.get(f"p{i}")]


def drill_down(queryset: QuerySet) -> DrillDownQuerySet:
    """The same rows as a DrillDownQuerySet (for a ModelAdmin's get_queryset)."""
    return DrillDownQuerySet(model=queryset.model, query=queryset.query.chain(), using=queryset.db)
