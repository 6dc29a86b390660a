"""The bench runs end to end at tiny sizes, so it can't rot between the times it is run."""

import json
import os
from types import SimpleNamespace

import pytest
from django.db import connection

from bench.run import run_all, summary
from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def options(only: str, **sizes) -> SimpleNamespace:
    """The command's options at tiny sizes: nothing of a benchmark not picked."""
    none = dict(page_tenants=0, page_tenants_small=0, audit_events=0, rss_first=0, rss_tenants=0)
    return SimpleNamespace(latency=0.0, tenants=1, only=only, **{**none, **sizes})


# The pages bench copies the database for its large portal, a copy of what is committed.
@pytest.mark.django_db(transaction=True)
def test_the_bench_prints_every_figure_beside_its_target(tmp_path):
    sizes = dict(page_tenants=12, page_tenants_small=2, audit_events=150, repeat=1)
    result = json.loads(json.dumps(run_all(tmp_path, options("pages,engine", **sizes))))

    names = [f["name"] for f in result["figures"]]
    assert "engine time / baseline making the same calls" in names
    assert all(f["target"] and isinstance(f["met"], bool) for f in result["figures"])
    engine = result["engine"]
    assert engine["kube_requests_per_tenant_by_verb"]["PATCH"] >= 1
    assert engine["kube_objects_applied_per_tenant"] >= 10  # namespace, policies, workload…
    assert engine["kube_requests_per_object"] <= 1.5  # issue 14: each object applied, little else
    assert engine["secret_patches_per_tenant"] >= 1
    assert engine["baseline_seconds"] > 0
    # The replay made exactly the calls the engine did, system by system (the warm-up's aside).
    assert engine["replayed_calls_per_tenant"] == {
        "kubernetes": engine["kube_requests_per_tenant"],
        "authentik": engine["authentik_requests_per_tenant"],
    }
    assert engine["replayed_calls_per_tenant"]["kubernetes"] >= 20
    assert engine["ratio_range"][0] <= engine["engine_overhead_ratio"] <= engine["ratio_range"][1]
    # Issue 14's 30 is bounded (README; tests/provisioning/test_engine_queries.py counts the
    # 45 exactly): this keeps the single-statement step writes (a slow step may flush its log).
    assert 0 < engine["portal_queries_per_provisioning"] <= 50
    assert engine["drift_scan"]["tenants"] == 1 and engine["drift_scan"]["kube_requests_by_verb"]
    assert engine["drift_scan"]["kube_gets_per_tenant"] == 0  # listed by kind, not read one by one
    assert set(result["pages"]) >= {"tenant_list", "admin_audit_list"}
    audit = result["pages"]["admin_audit_list"]  # each size measured in its own database
    assert audit["seconds_small"] > 0 and audit["seconds_large"] > 0
    assert Tenant.objects.filter(slug__startswith="page").count() == 2  # the copy grew, not this
    with connection.cursor() as cursor:  # and the copy is gone
        copy = f"{connection.settings_dict['NAME']}_large"
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [copy])
        assert cursor.fetchall() == []
    assert "targets met" in summary(result)


@pytest.mark.django_db(transaction=True)  # the workers and the approver read what this writes
def test_the_throughput_bench_has_real_workers_make_every_tenant_ready(tmp_path):
    result = json.loads(json.dumps(run_all(tmp_path, options("throughput", throughput_tenants=2))))

    throughput = result["throughput"]
    assert set(throughput["rounds"]) == {"1", "4"}
    assert all(r["tenants_per_minute"] > 0 for r in throughput["rounds"].values())
    assert Tenant.objects.filter(state=Tenant.State.READY).count() == 4  # two a round
    for level in ("1", "4"):  # every part of the machine that worked for the round
        spent = throughput["rounds"][level]["cpu"]["seconds"]
        assert spent["worker"] > 0.1 and spent["fake_servers"] > 0 and spent["approver"] > 0.1
        assert spent["postgres_backends"] > 0  # the server runs on this machine (/proc)
        per_tenant = throughput["cpu"]["per_tenant"][level]
        assert per_tenant["total"] == round(sum(spent.values()) / 2, 3)
    cpu = throughput["cpu"]
    assert cpu["cores"] == os.cpu_count() and 0 < cpu["cores_left"] <= cpu["cores"]
    assert 0 < cpu["max_speedup_cores_left"] <= cpu["max_speedup_all_cores"] <= 4
    row, wall_clock = result["figures"]
    assert row["target"] == ">= 3" and row["value"] == throughput["speedup"] > 0
    assert "(2 tenants, 0 ms a request)" in row["name"]
    assert f"the machine allows at most {cpu['max_speedup_all_cores']} on its" in row["note"]
    assert wall_clock["target"] == "<= 600" and wall_clock["value"] == result["seconds"] > 0
    assert "concurrency 4:" in summary(result)


@pytest.mark.django_db(transaction=True)  # the worker and the approver read what this writes
def test_the_memory_bench_reads_a_real_workers_memory_after_each_batch(tmp_path):
    sizes = dict(rss_first=1, rss_tenants=3, rss_latency=0.0)
    result = json.loads(json.dumps(run_all(tmp_path, options("memory", **sizes))))  # one JSON

    memory = result["memory"]
    assert (memory["first"], memory["all"]) == (1, 3)
    first, last = memory["rss_after_first"], memory["rss_after_all"]
    assert len(first["pool_mib"]) == len(last["pool_mib"]) == memory["concurrency"] == 2
    assert all(mib > 50 for mib in (first["main_mib"], *first["pool_mib"], *last["pool_mib"]))
    assert first["total_mib"] == round(first["main_mib"] + sum(first["pool_mib"]), 1)
    assert last["cpu_seconds"] > first["cpu_seconds"]  # the second batch ran in the same worker
    assert memory["rss_ratio"] == round(last["total_mib"] / first["total_mib"], 2)
    assert Tenant.objects.filter(state=Tenant.State.READY).count() == 3
    row = result["figures"][0]
    assert row["name"] == "worker RSS after 3 provisionings / after 1"
    assert row["target"] == "<= 1.2" and row["value"] == memory["rss_ratio"]
    assert "a Celery worker on Redis, concurrency 2" in row["note"]


@pytest.mark.django_db(transaction=True)  # the worker and the command read what this writes
def test_the_waits_bench_times_ready_after_the_rollout_and_the_teardown(tmp_path):
    result = json.loads(json.dumps(run_all(tmp_path, options("waits", wait_tenants=1))))

    waits = result["waits"]
    assert waits["tenants"] == 1 and waits["hold_seconds"] == 2.0
    (ready,) = waits["ready_after_rollout_seconds"]
    assert 0 < ready < 10  # never one fixed 10 s wait (PORTAL_WAIT_INTERVAL)
    (teardown,) = waits["deprovision_seconds"]
    assert 0 < teardown <= 5  # no fixed 10 s wait
    assert Tenant.objects.get(slug="wait0000").state == Tenant.State.DELETED
    ready_row, teardown_row, _ = result["figures"]
    assert ready_row["target"] == "<= 2.0" and ready_row["value"] == ready
    assert teardown_row["target"] == "<= 5.0" and teardown_row["met"]
    assert "rollout held 2.0 s, PORTAL_WAIT_FIRST 1.0 s" in ready_row["note"]
