"""One statement, two writes: Django's next query begun by data-modifying CTEs (PostgreSQL)."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from django.db import connection
from django.db.models import QuerySet
from django.db.models.sql.subqueries import UpdateQuery


def combined() -> bool:
    """True where a statement may carry writes of its own in a WITH clause (PostgreSQL);
    elsewhere (the embedded SQLite) the engine makes the same writes one statement each."""
    return connection.vendor == "postgresql"


def update_clause(name: str, queryset: QuerySet, **fields) -> tuple[str, list]:
    """queryset.update(**fields) as a WITH clause named `name`, returning the rows' ids: the
    ORM's own UPDATE (its filters, its values), not written again by hand."""
    query = queryset.query.chain(UpdateQuery)
    query.add_update_values(fields)
    sql, params = query.get_compiler(connection=connection).as_sql()
    pk = connection.ops.quote_name(queryset.model._meta.pk.column)
    return f"{name} AS ({sql} RETURNING {pk})", list(params)


@contextmanager
def prefixed(clauses: Sequence[tuple[str, Sequence]], then: str = "") -> Iterator[None]:
    """The one query Django runs inside this block begins `WITH <clauses>`: each clause is
    ("name AS (statement)", params). Its statements run with the query, in its snapshot and
    its transaction (autocommit: all or nothing), and the query may read what they RETURN.
    `then` ends the query (a locking clause Django allows only inside a transaction)."""
    sql = "WITH " + ", ".join(clause for clause, _ in clauses)
    params = [param for _, clause_params in clauses for param in clause_params]
    used = False

    def wrapper(execute, query, query_params, many, context):
        nonlocal used
        if used:  # a second query in the block would repeat the writes: refuse it
            raise RuntimeError("one query only under prefixed()")
        used = True
        return execute(f"{sql} {query}{then}", (*params, *(query_params or ())), many, context)

    with connection.execute_wrapper(wrapper):
        yield
