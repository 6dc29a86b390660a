"""Step rows written in one UPDATE fenced by the run's token: a boundary costs one statement."""

from django.db import connection
from django.db.models import Case, F, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast

from provisioning.models import Run, StepRun


def _ours(run_id: int, token: int) -> RawSQL:
    # The run's row locked as the engine's fenced transactions lock it, for this statement: a
    # takeover's claim waits for the write, and a write after a takeover finds the new token and
    # changes nothing. (Django refuses select_for_update() in a subquery outside a transaction.)
    lock = " FOR NO KEY UPDATE" if connection.features.has_select_for_no_key_update else ""
    table = connection.ops.quote_name(Run._meta.db_table)
    return RawSQL(  # noqa: S611  (the table and the lock clause are constants, values parameters)
        f"SELECT id FROM {table} WHERE id = %s AND token = %s AND status = %s{lock}",  # noqa: S608
        [run_id, token, Run.Status.RUNNING],
    )


def steps_update(*, run_id: int, token: int, updates: list[tuple[int, dict]]) -> bool:
    """Write each (step row id, fields) in one statement, only while the run is running under
    `token`; False (nothing written) when it is not."""
    merged: dict[int, dict] = {}
    for pk, fields in updates:
        merged.setdefault(pk, {}).update(fields)
    values = {}
    for name in {name for fields in merged.values() for name in fields}:
        field = StepRun._meta.get_field(name)
        whens = [
            When(pk=pk, then=Value(fields[name], output_field=field))
            for pk, fields in merged.items()
            if name in fields
        ]
        case = Case(*whens, default=F(name), output_field=field)
        if connection.features.requires_casted_case_in_updates:
            case = Cast(case, output_field=field)  # as bulk_update does: typed parameters
        values[name] = case
    mine = StepRun.objects.filter(pk__in=list(merged), run_id__in=_ours(run_id, token))
    return mine.update(**values) == len(merged)
