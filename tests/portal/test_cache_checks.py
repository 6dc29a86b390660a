"""The shared cache's checks: a Redis URL, never the broker's database, and set in production."""

import re
from pathlib import Path

import pytest
from django.test import override_settings

from portal.checks import cache_in_production, cache_url, redis_database

SECRETS_TF = Path(__file__).resolve().parents[2] / "deploy/terraform/platform/secrets.tf"
BROKER = "redis://:pw@redis.portal-redis.svc:6379/0"


def ids(messages) -> list[str]:
    return [m.id for m in messages]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://:pw@redis:6379/1", ("redis", 6379, "1")),
        ("rediss://redis", ("redis", 6379, "0")),
        ("redis://redis:6380?db=2", ("redis", 6380, "2")),
        ("unix:///run/redis.sock?db=3", ("/run/redis.sock", None, "3")),
        ("memcached://cache:11211", None),
        ("filesystem://", None),
    ],
)
def test_a_redis_url_names_its_server_and_database(url, expected):
    assert redis_database(url) == expected


def test_a_cache_that_is_not_redis_stops_the_portal():
    with override_settings(PORTAL_CACHE_URL="memcached://cache:11211"):
        [error] = cache_url()
    assert error.id == "portal.E001" and "must be a Redis URL" in error.msg
    assert "memcached://" in error.msg


@pytest.mark.parametrize("cache", ["redis://:pw@redis.portal-redis.svc:6379", BROKER + "?x=1"])
def test_the_cache_on_the_brokers_database_stops_the_portal(cache):
    with override_settings(PORTAL_CACHE_URL=cache, CELERY_BROKER_URL=BROKER):
        assert ids(cache_url()) == ["portal.E002"]


def test_a_cache_on_its_own_database_passes():
    with override_settings(PORTAL_CACHE_URL=BROKER[:-1] + "1", CELERY_BROKER_URL=BROKER):
        assert cache_url() == []
    with override_settings(PORTAL_CACHE_URL="", CELERY_BROKER_URL=BROKER):
        assert cache_url() == []


def test_check_deploy_warns_without_a_shared_cache():
    with override_settings(PORTAL_CACHE_URL=""):
        assert ids(cache_in_production()) == ["portal.W001"]
    with override_settings(PORTAL_CACHE_URL="redis://redis:6379/1"):
        assert cache_in_production() == []


def test_the_platform_secret_gives_the_pods_a_cache_apart_from_the_broker():
    # The staging and production overlays' ExternalSecret extracts Terraform's "portal" secret.
    text = re.sub(r"\$\{[^}]*\}", "pw", SECRETS_TF.read_text())
    urls = dict(re.findall(r'^\s*(CELERY_BROKER_URL|PORTAL_CACHE_URL)\s*=\s*"([^"]+)"', text, re.M))

    assert set(urls) == {"CELERY_BROKER_URL", "PORTAL_CACHE_URL"}, urls
    with override_settings(
        PORTAL_CACHE_URL=urls["PORTAL_CACHE_URL"], CELERY_BROKER_URL=urls["CELERY_BROKER_URL"]
    ):
        assert cache_url() == [] and cache_in_production() == []
