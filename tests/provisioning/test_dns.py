"""The dns step against a fake IONOS Cloud DNS API, driven through the ionoscloud-dns SDK:
create, re-run without a duplicate, put back, destroy, already gone; hosts outside the zone."""

import dataclasses

import pytest

from provisioning.errors import StepFailed, TransientError
from provisioning.secrets import MemorySecrets
from provisioning.steps.base import StepContext
from provisioning.steps.dns import DnsStep
from tests.fakes.ionosdns import FakeIonosDns
from tests.provisioning.test_sso import make_spec

ZONE = "wp.example.com"
LB = "203.0.113.10"


@pytest.fixture
def dns(settings):
    fake = FakeIonosDns().start()
    zone_id = fake.add_zone(ZONE)
    fake.zone_id = zone_id
    settings.PORTAL_IONOS_DNS_URL = fake.url
    settings.PORTAL_IONOS_TOKEN = fake.token
    settings.PORTAL_IONOS_DNS_ZONE_ID = zone_id
    settings.PORTAL_IONOS_DNS_TARGET = LB
    settings.PORTAL_IONOS_DNS_TTL = 300
    settings.PORTAL_IONOS_TIMEOUT = 2.0
    yield fake
    fake.stop()


def step_for(host: str, slug: str = "shop") -> DnsStep:
    spec = dataclasses.replace(make_spec(slug), host=host)
    logs: list[str] = []
    step = DnsStep(StepContext(spec=spec, secrets=MemorySecrets(), log=logs.append))
    step.logs = logs
    return step


def writes(fake) -> list[tuple[str, str]]:
    return [(m, p) for m, p in fake.requests if m != "GET"]


def test_create_rerun_destroy_and_already_gone(dns):
    step = step_for(f"wordpress-shop.{ZONE}")
    assert step.check() == [f"no A record for wordpress-shop.{ZONE}"]

    assert "created" in step.apply().message
    [record] = dns.named(dns.zone_id, "wordpress-shop")
    assert record == {
        "name": "wordpress-shop", "type": "A", "content": LB, "ttl": 300, "priority": 0,
        "enabled": True,
    }  # fmt: skip
    assert step.check() == []

    before = len(writes(dns))
    again = step_for(f"wordpress-shop.{ZONE}")
    assert again.apply().message == f"A record wordpress-shop.{ZONE} → {LB}"
    assert len(writes(dns)) == before, "a second run wrote something"
    assert len(dns.named(dns.zone_id, "wordpress-shop")) == 1

    assert step.destroy().message == f"A record wordpress-shop.{ZONE} removed"
    assert dns.named(dns.zone_id, "wordpress-shop") == []
    assert step.destroy().message == "already gone"


def test_the_record_is_looked_up_after_its_removal(dns):
    step = step_for(f"wordpress-shop.{ZONE}")
    step.apply()
    dns.add_record(dns.zone_id, "wordpress-shop-two", "198.51.100.9")  # another host's, kept
    step.destroy()
    [looked] = step.gone()
    assert (looked.what, looked.result) == (f"DNS A record wordpress-shop.{ZONE}", "checked gone")
    # One that came back (or never went) is still there, in the look-up's words.
    record_id = dns.add_record(dns.zone_id, "wordpress-shop", "198.51.100.7")
    [looked] = step.gone()
    assert looked.still_there
    assert looked.result == f"still there: A record → 198.51.100.7 (id {record_id})"
    # A custom domain's record is its owner's: none was removed, none is looked up.
    assert step_for("blog.customer.example.org").gone() == []


def test_a_record_changed_by_hand_or_doubled_is_put_back_to_one(dns):
    dns.add_record(dns.zone_id, "wordpress-shop", "198.51.100.7")
    dns.add_record(dns.zone_id, "wordpress-shop", "198.51.100.8")
    dns.add_record(dns.zone_id, "wordpress-shop-two", "198.51.100.9")  # filter.name matches it
    step = step_for(f"wordpress-shop.{ZONE}")

    problems = step.check()
    assert f"A record wordpress-shop.{ZONE} points at 198.51.100.7, not {LB}" in problems
    assert f"2 A records for wordpress-shop.{ZONE}, not one" in problems

    assert "put back" in step.apply().message
    assert [r["content"] for r in dns.named(dns.zone_id, "wordpress-shop")] == [LB]
    assert [r["content"] for r in dns.named(dns.zone_id, "wordpress-shop-two")] == ["198.51.100.9"]
    assert step.check() == []


def test_a_host_outside_the_zone_is_left_to_its_owner(dns):
    step = step_for("blog.customer.example.org")
    assert step.check() == []
    assert "outside the platform's zone" in step.apply().message
    assert f"points it at {LB}" in step.logs[-1]
    assert writes(dns) == []


def test_errors_in_ionos_words(dns, settings):
    step = step_for(f"wordpress-shop.{ZONE}")
    dns.fail("POST", 503)
    with pytest.raises(TransientError, match="answered 503 for creating the A record"):
        step.apply()

    settings.PORTAL_IONOS_DNS_TARGET = ""
    with pytest.raises(StepFailed, match="PORTAL_IONOS_DNS_TARGET is unset"):
        step_for(f"wordpress-shop.{ZONE}").apply()

    settings.PORTAL_IONOS_DNS_TARGET = LB
    settings.PORTAL_IONOS_TOKEN = "wrong-token"
    with pytest.raises(StepFailed, match="401 .*check PORTAL_IONOS_TOKEN") as refused:
        step_for(f"wordpress-shop.{ZONE}").apply()
    assert "wrong-token" not in str(refused.value)


def test_without_a_zone_the_step_writes_a_plan(settings, tmp_path):
    settings.PORTAL_IONOS_DNS_ZONE_ID = ""
    settings.PORTAL_IONOS_DNS_TARGET = LB
    step = DnsStep(StepContext(spec=make_spec("shop"), secrets=MemorySecrets(), plan_dir=tmp_path))
    assert step.apply().status == "planned"
    assert step.plan_file.read_text() == f"wordpress-shop.local. 300 IN A {LB}\n"


def test_the_step_runs_before_wordpress_where_a_zone_is_configured():
    import os
    import subprocess
    import sys

    def steps(zone: str) -> list[str]:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings"}
        env.pop("PORTAL_STEPS", None)
        env["PORTAL_IONOS_DNS_ZONE_ID"] = zone
        code = "import django; django.setup(); from django.conf import settings as s; "
        code += "print(','.join(p.rsplit('.', 1)[1] for p in s.PORTAL_STEPS))"
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().split(",")

    with_zone = steps("a0c9-zone")
    assert with_zone.index("DnsStep") == with_zone.index("WordPressStep") - 1
    assert "DnsStep" not in steps("")
