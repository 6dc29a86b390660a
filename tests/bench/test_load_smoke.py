"""The load bench runs end to end with a few users for a few seconds, so it can't rot."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_load_bench_reports_latency_and_checks_what_it_did():
    done = subprocess.run(
        [sys.executable, "-m", "bench.load", "--users", "4", "--approvers", "1", "--seconds", "4"],
        cwd=ROOT, capture_output=True, text=True, timeout=180,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["failures"] == [] and "all checks passed" in done.stderr
    assert result["tenants_filed"] >= 1 and result["all"]["p99_ms"] > 0
    assert set(result["statuses"]) <= {"200", "302", "429"}, result["statuses"]
    assert {"list", "request", "approvals"} <= set(result["by_kind"])
