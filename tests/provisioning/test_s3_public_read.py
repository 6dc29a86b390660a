"""Browsers may read the tenants' media: one public-read statement for tenants/, nothing more."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from provisioning import s3policy
from tests.provisioning.test_storage import bucket_policy, client, s3  # noqa: F401

ANYONE = "anonymous"  # a browser: no principal at all


@pytest.fixture
def public(s3, settings):  # noqa: F811
    settings.PORTAL_S3_PUBLIC_READ = True
    return s3


def may(policy: dict, action: str, key: str, bucket: str) -> bool:
    return s3policy.allowed(policy, ANYONE, action, f"arn:aws:s3:::{bucket}/{key}")


def test_anyone_may_read_tenant_media_and_nothing_else(public, moto_url, settings):
    step = public()
    assert step.apply().status == "done"
    bucket = settings.PORTAL_S3_BUCKET
    policy = bucket_policy(moto_url, bucket)
    media = f"{step.spec.s3_prefix}2026/12/photo.jpg"
    assert may(policy, "s3:GetObject", media, bucket)
    assert not may(policy, "s3:PutObject", media, bucket)
    assert not may(policy, "s3:DeleteObject", media, bucket)
    assert not may(policy, "s3:GetObject", "backups/db.sql", bucket)
    assert not s3policy.allowed(policy, ANYONE, "s3:ListBucket", f"arn:aws:s3:::{bucket}")
    assert step.check() == []
    assert step.apply().status == "unchanged"


def test_many_tenants_share_one_statement(public, moto_url, settings):
    steps = [public() for _ in range(6)]
    with ThreadPoolExecutor(max_workers=3) as pool:
        list(pool.map(lambda step: step.apply(), steps))
    sids = [s["Sid"] for s in bucket_policy(moto_url, settings.PORTAL_S3_BUCKET)["Statement"]]
    assert sids == [s3policy.PUBLIC_READ_SID]


def test_a_removed_grant_is_repaired_and_a_switched_off_one_withdrawn(public, moto_url, settings):
    step = public()
    step.apply()
    bucket = settings.PORTAL_S3_BUCKET
    client(moto_url).delete_bucket_policy(Bucket=bucket)
    assert f"bucket {bucket}'s policy doesn't let browsers read tenants/" in step.check()
    step.apply()
    assert step.check() == []

    settings.PORTAL_S3_PUBLIC_READ = False
    step = public(step.spec.slug)  # a new run reads the settings again
    assert any("lets anyone read tenants/" in d for d in step.check())
    step.apply()
    assert bucket_policy(moto_url, bucket) is None
