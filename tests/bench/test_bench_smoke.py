"""The bench runs end to end at tiny sizes, so it can't rot between the times it is run."""

import json
from types import SimpleNamespace

import pytest

from bench.run import run_all, summary
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def test_the_bench_prints_every_figure_beside_its_target(tmp_path):
    options = SimpleNamespace(
        latency=0.0,
        tenants=1,
        page_tenants=12,
        page_tenants_small=2,
        audit_events=150,
        rss_tenants=1,
        repeat=1,
        only="pages,engine,memory",
    )
    result = json.loads(json.dumps(run_all(tmp_path, options)))  # one JSON document

    names = [f["name"] for f in result["figures"]]
    assert "engine time / baseline making the same calls" in names
    assert all(f["target"] and isinstance(f["met"], bool) for f in result["figures"])
    engine = result["engine"]
    assert engine["kube_requests_per_tenant_by_verb"]["PATCH"] >= 1
    assert engine["kube_objects_applied_per_tenant"] >= 10  # namespace, policies, workload…
    assert engine["kube_requests_per_object"] <= 1.5  # issue 14: each object applied, little else
    assert engine["secret_patches_per_tenant"] >= 1
    assert engine["baseline_seconds"] > 0
    # Issue 14's 30 is bounded by the passes (README); this keeps the batched engine writes.
    assert 0 < engine["portal_queries_per_provisioning"] <= 100
    assert engine["drift_scan"]["tenants"] == 1 and engine["drift_scan"]["kube_requests_by_verb"]
    assert set(result["pages"]) >= {"tenant_list", "admin_audit_list"}
    assert "targets met" in summary(result)


@pytest.mark.django_db(transaction=True)  # the workers and the approver read what this writes
def test_the_throughput_bench_has_real_workers_make_every_tenant_ready(tmp_path):
    options = SimpleNamespace(
        latency=0.0,
        tenants=1,
        page_tenants=0,
        page_tenants_small=0,
        audit_events=0,
        rss_tenants=0,
        throughput_tenants=2,
        only="throughput",
    )
    result = json.loads(json.dumps(run_all(tmp_path, options)))

    throughput = result["throughput"]
    assert set(throughput["rounds"]) == {"1", "4"}
    assert all(r["tenants_per_minute"] > 0 for r in throughput["rounds"].values())
    assert Tenant.objects.filter(state=Tenant.State.READY).count() == 4  # two a round
    row, wall_clock = result["figures"]
    assert row["target"] == ">= 3" and row["value"] == throughput["speedup"] > 0
    assert wall_clock["target"] == "<= 600" and wall_clock["value"] == result["seconds"] > 0
    assert "concurrency 4:" in summary(result)
