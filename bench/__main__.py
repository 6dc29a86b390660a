"""`python -m bench`: run every benchmark in a database of its own, print JSON then a summary."""

import argparse
import contextlib
import json
import logging
import os
import sys
import tempfile
from pathlib import Path


def parse(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per outside request")
    parser.add_argument("--tenants", type=int, default=10, help="new tenants through the engine")
    parser.add_argument("--page-tenants", type=int, default=10_000, help="the large portal")
    parser.add_argument("--page-tenants-small", type=int, default=10, help="the small portal")
    parser.add_argument("--audit-events", type=int, default=100_000, help="at the large portal")
    parser.add_argument(
        "--rss-tenants",
        type=int,
        default=60,
        help="provisionings by the memory bench's worker (issue 14's 500 take ~17 minutes here)",
    )
    parser.add_argument(
        "--rss-first", type=int, default=10, help="provisionings before the first memory read"
    )
    parser.add_argument(
        "--rss-latency", type=float, default=0.001, help="seconds per outside request, memory"
    )
    parser.add_argument(
        "--throughput-tenants",
        type=int,
        default=40,
        help="approved at once for the workers (issue 14's 200 add ~13 minutes on 2 cores)",
    )
    parser.add_argument(
        "--wait-tenants", type=int, default=3, help="approved and deleted one by one, waits"
    )
    parser.add_argument(
        "--only",
        default="pages,engine,memory,throughput,waits",
        help="which benchmarks (comma-separated)",
    )
    parser.add_argument(
        "--repeat", type=int, default=21, help="timed loads of each page at each size, in turn"
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    options = parse(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")  # the bench drives the engine itself
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    from bench.run import run_all, summary

    setup_test_environment()
    database = settings.DATABASES["default"]
    database.setdefault("TEST", {})["NAME"] = f"{database['NAME']}_bench"
    with contextlib.redirect_stdout(sys.stderr):  # stdout is the JSON document's alone
        connection.creation.create_test_db(verbosity=0, autoclobber=True)
    # The engine's log lines of every step would drown the summary.
    logging.getLogger("provisioning").setLevel(logging.WARNING)
    try:
        with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp:
            result = run_all(Path(tmp), options)
    finally:
        connection.creation.destroy_test_db(database["NAME"], verbosity=0)
    print(json.dumps(result, indent=2))
    print(summary(result), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
