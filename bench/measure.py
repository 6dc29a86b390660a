"""Small measuring helpers: query counting, requests by verb."""

from collections import Counter
from contextlib import contextmanager

from django.db import connection
from django.test.utils import CaptureQueriesContext


@contextmanager
def queries():
    """Yields a list that holds, once the block ends, the (seconds, SQL) the portal database
    ran."""
    ran: list[tuple[float, str]] = []
    with CaptureQueriesContext(connection) as ctx:
        yield ran
    ran.extend((float(q["time"]), q["sql"]) for q in ctx.captured_queries)


def by_verb(requests: list[tuple[str, str]]) -> dict[str, int]:
    """Kubernetes requests by verb: GET of a collection is LIST, as the API server logs it."""
    verbs: Counter[str] = Counter()
    for method, path in requests:
        name_less = method == "GET" and _is_collection(path)
        verbs["LIST" if name_less else method] += 1
    return dict(sorted(verbs.items()))


def _is_collection(path: str) -> bool:
    from tests.fakes.kube import _PATH

    m = _PATH.match(path)
    return bool(m) and not m.group(4)
