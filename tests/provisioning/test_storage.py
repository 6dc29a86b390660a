"""The storage step against an S3-compatible server on loopback (moto), through boto3."""

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from provisioning import s3policy
from provisioning.errors import StepFailed, TransientError
from provisioning.secrets import S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, MemorySecrets, PlanSecrets
from provisioning.steps.base import StepContext
from provisioning.steps.storage import StorageStep
from tests.provisioning.test_database import make_spec

ADMIN = {"aws_access_key_id": "admin-key", "aws_secret_access_key": "admin-secret"}


@pytest.fixture
def s3(settings, moto_url, db):
    """A fresh platform bucket name per test, and a way to make tenants' storage steps."""
    settings.PORTAL_S3_ENDPOINT_URL = moto_url
    settings.PORTAL_S3_IAM_ENDPOINT_URL = ""
    settings.PORTAL_S3_REGION = "eu-central-1"
    settings.PORTAL_S3_ACCESS_KEY_ID = ADMIN["aws_access_key_id"]
    settings.PORTAL_S3_SECRET_ACCESS_KEY = ADMIN["aws_secret_access_key"]
    settings.PORTAL_S3_BUCKET = f"media-{uuid.uuid4().hex[:12]}"

    def tenant(slug: str = "") -> StorageStep:
        spec = make_spec(slug or f"t{uuid.uuid4().hex[:10]}")
        return StorageStep(StepContext(spec=spec, secrets=MemorySecrets()))

    return tenant


def client(url: str, **credentials):
    return boto3.client(
        "s3", endpoint_url=url, region_name="eu-central-1", **(credentials or ADMIN)
    )


def versions_under(url: str, bucket: str, prefix: str) -> list[tuple[str, str]]:
    found = []
    for page in (
        client(url).get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix)
    ):
        for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            found.append((entry["Key"], entry["VersionId"]))
    return found


def test_apply_sets_up_bucket_user_key_and_policy(s3, moto_url, settings):
    step = s3()
    assert step.apply().status == "done"
    bucket = settings.PORTAL_S3_BUCKET
    admin = client(moto_url)
    assert admin.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    rules = admin.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert rules["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"

    key_id = step.ctx.secrets.get(S3_ACCESS_KEY_ID)
    secret = step.ctx.secrets.get(S3_SECRET_ACCESS_KEY)
    assert key_id and secret
    tenant = client(moto_url, aws_access_key_id=key_id, aws_secret_access_key=secret)
    own = f"tenants/{step.spec.slug}/2026/11/photo.jpg"
    tenant.put_object(Bucket=bucket, Key=own, Body=b"jpeg")
    assert tenant.get_object(Bucket=bucket, Key=own)["Body"].read() == b"jpeg"
    listed = tenant.list_objects_v2(Bucket=bucket, Prefix=step.spec.s3_prefix)
    assert [o["Key"] for o in listed["Contents"]] == [own]

    policy = json.loads(admin.get_bucket_policy(Bucket=bucket)["Policy"])
    arn = boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1", **ADMIN).get_user(
        UserName=step.user_name
    )["User"]["Arn"]
    assert s3policy.allowed(policy, arn, "s3:PutObject", f"arn:aws:s3:::{bucket}/{own}")
    assert not s3policy.allowed(
        policy, arn, "s3:GetObject", f"arn:aws:s3:::{bucket}/tenants/someone-else/x"
    )


def test_second_apply_changes_nothing(s3, moto_url, settings):
    step = s3()
    step.apply()
    secrets_before = dict(step.ctx.secrets.values)
    policy_before = client(moto_url).get_bucket_policy(Bucket=settings.PORTAL_S3_BUCKET)
    assert step.check() == []
    assert step.apply().status == "unchanged"
    assert step.ctx.secrets.values == secrets_before
    after = client(moto_url).get_bucket_policy(Bucket=settings.PORTAL_S3_BUCKET)
    assert after["Policy"] == policy_before["Policy"]


def test_two_tenants_share_the_policy_and_a_lost_key_is_replaced(s3, moto_url, settings):
    first, second = s3(), s3()
    first.apply()
    second.apply()
    assert first.check() == [] and second.check() == []
    sids = {
        s["Sid"]
        for s in json.loads(
            client(moto_url).get_bucket_policy(Bucket=settings.PORTAL_S3_BUCKET)["Policy"]
        )["Statement"]
    }
    assert sids == {
        *s3policy.statement_ids(first.spec.slug),
        *s3policy.statement_ids(second.spec.slug),
    }

    # A crash after the key was created but before it was stored: the Secret is empty.
    first.ctx.secrets.values.clear()
    assert "no S3 access key in the tenant's Secret yet" in first.check()
    first.apply()
    assert first.check() == []
    iam = boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1", **ADMIN)
    keys = iam.list_access_keys(UserName=first.user_name)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [first.ctx.secrets.get(S3_ACCESS_KEY_ID)]


def test_destroy_removes_thousands_of_versions_and_nothing_of_another_tenant(
    s3, moto_url, settings
):
    bucket = settings.PORTAL_S3_BUCKET
    doomed, neighbour = s3(), s3()
    doomed.apply()
    neighbour.apply()
    admin = client(moto_url)

    def put(key: str) -> None:
        admin.put_object(Bucket=bucket, Key=key, Body=b"v")

    keys = [f"{doomed.spec.s3_prefix}uploads/{i:05d}.jpg" for i in range(2500)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(put, keys))
        list(pool.map(put, keys[:100]))  # second versions
        list(pool.map(lambda k: admin.delete_object(Bucket=bucket, Key=k), keys[-100:]))
    # A prefix that merely starts the same way belongs to somebody else.
    lookalike = f"tenants/{doomed.spec.slug}x/keep.jpg"
    for key in [f"{neighbour.spec.s3_prefix}keep.jpg", lookalike]:
        put(key)
        put(key)
    kept_before = versions_under(moto_url, bucket, "tenants/")
    kept_before = [v for v in kept_before if not v[0].startswith(doomed.spec.s3_prefix)]
    assert len(versions_under(moto_url, bucket, doomed.spec.s3_prefix)) == 2500 + 100 + 100

    outcome = doomed.destroy()
    assert "deleted 2700 object versions" in outcome.message
    assert versions_under(moto_url, bucket, doomed.spec.s3_prefix) == []
    assert sorted(versions_under(moto_url, bucket, "tenants/")) == sorted(kept_before)

    policy = json.loads(admin.get_bucket_policy(Bucket=bucket)["Policy"])
    assert {s["Sid"] for s in policy["Statement"]} == set(
        s3policy.statement_ids(neighbour.spec.slug)
    )
    iam = boto3.client("iam", endpoint_url=moto_url, region_name="us-east-1", **ADMIN)
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.get_user(UserName=doomed.user_name)
    assert neighbour.check() == []
    assert doomed.destroy().status == "done"  # gone already counts as removed


def test_real_s3_needs_a_real_secret_store(s3):
    step = s3()
    step.ctx.secrets = PlanSecrets()
    with pytest.raises(StepFailed, match="plan mode"):
        step.apply()


def test_unreachable_endpoint_is_retried(s3, settings):
    settings.PORTAL_S3_ENDPOINT_URL = "http://127.0.0.1:1"
    settings.PORTAL_S3_TIMEOUT = 1
    with pytest.raises(TransientError):
        s3().apply()


def test_plan_mode_writes_the_plan_with_placeholders(settings):
    settings.PORTAL_S3_ENDPOINT_URL = ""
    settings.PORTAL_IONOS_TOKEN = ""
    settings.PORTAL_S3_BUCKET = "wordpress-media"
    secrets = MemorySecrets()
    step = StorageStep(StepContext(spec=make_spec("my-site"), secrets=secrets))
    assert step.apply().status == "planned"
    plan = json.loads(step.plan_file.read_text())
    assert plan["secret"] == {S3_ACCESS_KEY_ID: "<generated>", S3_SECRET_ACCESS_KEY: "<generated>"}
    assert plan["prefix"] == "tenants/my-site/"
    assert plan["bucket_policy_statements"][0]["Resource"] == [
        "arn:aws:s3:::wordpress-media/tenants/my-site/*"
    ]
    assert secrets.values == {}
