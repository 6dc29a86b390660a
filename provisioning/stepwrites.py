"""Step rows written in one UPDATE fenced by the run's token: a boundary costs one statement."""

from datetime import timedelta

from django.db import connection
from django.db.models import QuerySet, Value
from django.db.models.expressions import Expression, RawSQL
from django.db.models.functions import Cast, Now

from provisioning.locks import lock_release, release_clause
from provisioning.models import Run, StepRun
from provisioning.withsql import combined, prefixed, update_clause


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
    return _written(updates, _ours(run_id, token))


class _ByRow(Expression):
    """CASE WHEN id = %s THEN %s … ELSE <column> END: one field's value for each step row, the
    SQL of Case(When(pk=…, then=Value(…)), default=F(…)) compiled without resolving a lookup
    and copying the tree for every row and field (a sixth of the engine's own time, issue 14).
    The values are adapted by the field as Value() adapts them for an UPDATE."""

    def __init__(self, field, by_pk: dict):
        super().__init__(output_field=field)
        self.by_pk = by_pk

    def resolve_expression(self, *args, **kwargs):
        return self  # its SQL names only the step table's own columns

    def as_sql(self, compiler, connection):
        table = connection.ops.quote_name(StepRun._meta.db_table)
        pk = f"{table}.{connection.ops.quote_name(StepRun._meta.pk.column)}"
        whens, params = [], []
        for key, value in self.by_pk.items():
            then = Value(value, output_field=self.output_field)
            then.for_save = True  # as an UPDATE's Value: get_db_prep_save
            sql, then_params = compiler.compile(then)
            whens.append(f"WHEN {pk} = %s THEN {sql}")
            params += [key, *then_params]
        column = f"{table}.{connection.ops.quote_name(self.output_field.column)}"
        return f"CASE {' '.join(whens)} ELSE {column} END", params


def _written(updates: list[tuple[int, dict]], ours: RawSQL) -> bool:
    merged: dict[int, dict] = {}
    for pk, fields in updates:
        merged.setdefault(pk, {}).update(fields)
    values = {}
    for name in {name for fields in merged.values() for name in fields}:
        field = StepRun._meta.get_field(name)
        case = _ByRow(field, {pk: fields[name] for pk, fields in merged.items() if name in fields})
        if connection.features.requires_casted_case_in_updates:
            case = Cast(case, output_field=field)  # as bulk_update does: typed parameters
        values[name] = case
    mine = StepRun.objects.filter(pk__in=list(merged), run_id__in=ours)
    return mine.update(**values) == len(merged)


def steps_park(
    *,
    run_id: int,
    token: int,
    updates: list[tuple[int, dict]],
    delay: float,
    message: str,
    tenant_id: int,
    holder: str,
) -> bool:
    """steps_update(), the run parked for `delay` seconds (on the database's clock) saying
    `message`, and the tenant's lease released: on PostgreSQL one statement, the run's UPDATE
    (filtered by the token, so the fence, with its row lock) and the release in its WITH
    clause; all of it or, when the run no longer runs under `token`, none (False)."""
    table = connection.ops.quote_name(Run._meta.db_table)
    if not combined():
        if not steps_update(run_id=run_id, token=token, updates=updates):
            return False
        parked = Run.objects.filter(pk=run_id, token=token, status=Run.Status.RUNNING).update(
            status=Run.Status.WAITING,
            not_before=Now() + timedelta(seconds=delay),
            message=message,
        )
        if parked:
            lock_release(tenant_id=tenant_id, holder=holder)
        return bool(parked)
    park = (
        f"parked AS (UPDATE {table} SET status = %s,"  # noqa: S608  (constants; values parameters)
        " not_before = STATEMENT_TIMESTAMP() + %s, message = %s"
        " WHERE id = %s AND token = %s AND status = %s RETURNING id)",
        [Run.Status.WAITING, timedelta(seconds=delay), message, run_id, token, Run.Status.RUNNING],
    )
    release = release_clause(tenant_id=tenant_id, holder=holder, once="parked")
    with prefixed([park, release]):
        return _written(updates, RawSQL("SELECT id FROM parked", []))  # noqa: S611


def steps_claiming(*, run_id: int, claim: QuerySet, fields: dict) -> list[StepRun] | None:
    """claim.update(**fields), the claim of the run `run_id`, and, in the same statement on
    PostgreSQL, the run's step rows; None when the claim found no run. The rows are read with
    a lock (FOR SHARE): a row its former holder wrote after the statement's snapshot, while the
    claim waited for that holder's lock on the run, is read as written, not as it was (READ
    COMMITTED follows a locked row to its newest version), so an attempt counted just before a
    takeover is not lost."""
    if not combined():
        return list(StepRun.objects.filter(run_id=run_id)) if claim.update(**fields) else None
    table = connection.ops.quote_name(StepRun._meta.db_table)
    with prefixed([update_clause("claimed", claim, **fields)], then=f" FOR SHARE OF {table}"):
        rows = list(StepRun.objects.filter(run_id__in=RawSQL("SELECT id FROM claimed", [])))
    if rows:
        return rows
    # No step rows (still to be made): the claim, if it was made, left its token and holder.
    mine = Run.objects.filter(pk=run_id, token=fields["token"], holder=fields["holder"])
    return [] if mine.exists() else None
