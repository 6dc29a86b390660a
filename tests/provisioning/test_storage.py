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
    # The tenants' grants on their own; the public read of their media: test_s3_public_read.py.
    settings.PORTAL_S3_PUBLIC_READ = False

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


def iam(url: str):
    return boto3.client("iam", endpoint_url=url, region_name="us-east-1", **ADMIN)


def user_policy(url: str, step: StorageStep) -> dict | None:
    """The tenant's inline IAM policy as the server holds it, or None."""
    try:
        answer = iam(url).get_user_policy(
            UserName=step.user_name, PolicyName=s3policy.USER_POLICY_NAME
        )
    except iam(url).exceptions.NoSuchEntityException:
        return None
    return answer["PolicyDocument"]


def bucket_policy(url: str, bucket: str) -> dict | None:
    try:
        return json.loads(client(url).get_bucket_policy(Bucket=bucket)["Policy"])
    except client(url).exceptions.ClientError as exc:
        assert exc.response["Error"]["Code"] == "NoSuchBucketPolicy"
        return None


def as_old_portal_left_it(url: str, bucket: str, *steps: StorageStep, keep: list[dict] = ()):
    """What portals before the user policies left: each tenant's two statements in the bucket
    policy, its IAM user without a policy of its own."""
    statements = list(keep)
    for step in steps:
        iam(url).delete_user_policy(UserName=step.user_name, PolicyName=s3policy.USER_POLICY_NAME)
        arn = iam(url).get_user(UserName=step.user_name)["User"]["Arn"]
        statements += s3policy.tenant_statements(bucket, step.spec.slug, arn)
    policy = {"Version": "2012-10-17", "Statement": statements}
    client(url).put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def test_apply_sets_up_bucket_user_key_and_the_users_own_policy(s3, moto_url, settings):
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

    # The grant is the user's own: the shared bucket policy, capped at 20 KB, stays empty.
    assert bucket_policy(moto_url, bucket) is None
    mine = user_policy(moto_url, step)
    arn = iam(moto_url).get_user(UserName=step.user_name)["User"]["Arn"]

    def may(action: str, key: str | None = None, **context) -> bool:
        resource = f"arn:aws:s3:::{bucket}" + (f"/{key}" if key is not None else "")
        return s3policy.account_allowed(arn, action, resource, context, user_policies=(mine,))

    assert may("s3:PutObject", own) and may("s3:DeleteObject", own)
    assert may("s3:ListBucket", **{"s3:prefix": step.spec.s3_prefix})
    assert not may("s3:GetObject", "tenants/someone-else/x")
    assert not may("s3:ListBucket", **{"s3:prefix": "tenants/"})
    assert not may("s3:ListBucket")


def test_second_apply_changes_nothing(s3, moto_url, settings):
    step = s3()
    step.apply()
    secrets_before = dict(step.ctx.secrets.values)
    policy_before = user_policy(moto_url, step)
    assert step.check() == []
    assert step.apply().status == "unchanged"
    assert step.ctx.secrets.values == secrets_before
    assert user_policy(moto_url, step) == policy_before
    assert bucket_policy(moto_url, settings.PORTAL_S3_BUCKET) is None


def test_two_tenants_each_get_their_own_policy_and_a_lost_key_is_replaced(s3, moto_url, settings):
    first, second = s3(), s3()
    first.apply()
    second.apply()
    assert first.check() == [] and second.check() == []
    bucket = settings.PORTAL_S3_BUCKET
    assert bucket_policy(moto_url, bucket) is None
    theirs = user_policy(moto_url, second)
    assert s3policy.user_allowed(
        theirs, "s3:GetObject", f"arn:aws:s3:::{bucket}/{second.spec.s3_prefix}a.jpg"
    )
    assert not s3policy.user_allowed(
        theirs, "s3:GetObject", f"arn:aws:s3:::{bucket}/{first.spec.s3_prefix}a.jpg"
    )

    # A crash after the key was created but before it was stored: the Secret is empty.
    first.ctx.secrets.values.clear()
    assert "no S3 access key in the tenant's Secret yet" in first.check()
    first.apply()
    assert first.check() == []
    keys = iam(moto_url).list_access_keys(UserName=first.user_name)["AccessKeyMetadata"]
    assert [k["AccessKeyId"] for k in keys] == [first.ctx.secrets.get(S3_ACCESS_KEY_ID)]


def test_tenants_of_older_portals_move_out_of_the_bucket_policy(s3, moto_url, settings):
    bucket = settings.PORTAL_S3_BUCKET
    first, second = s3(), s3()
    first.apply()
    second.apply()
    platform = {
        "Sid": "platform-backups",
        "Effect": "Allow",
        "Principal": {"AWS": ["arn:aws:iam::123456789012:user/backup"]},
        "Action": ["s3:GetObject"],
        "Resource": [f"arn:aws:s3:::{bucket}/*"],
    }
    as_old_portal_left_it(moto_url, bucket, first, second, keep=[platform])
    differences = first.check()
    assert f"IAM user {first.user_name} has no policy tenant-prefix" in differences
    assert "the bucket policy still holds the tenant's statements" in differences

    outcome = first.apply()  # what drift repair does
    assert "removed the tenant's statements from the bucket policy" in outcome.message
    assert first.check() == []
    arn = iam(moto_url).get_user(UserName=first.user_name)["User"]["Arn"]
    own = f"arn:aws:s3:::{bucket}/{first.spec.s3_prefix}a.jpg"
    assert s3policy.account_allowed(
        arn,
        "s3:PutObject",
        own,
        bucket_policy=bucket_policy(moto_url, bucket),
        user_policies=(user_policy(moto_url, first),),
    )
    # The other tenant and the platform's own statement are left as they were.
    left = {s["Sid"] for s in bucket_policy(moto_url, bucket)["Statement"]}
    assert left == {"platform-backups", *s3policy.statement_ids(second.spec.slug)}

    second.apply()
    assert second.check() == []
    assert bucket_policy(moto_url, bucket)["Statement"] == [platform]


def test_a_changed_user_policy_is_reported_and_repaired(s3, moto_url):
    step = s3()
    step.apply()
    wide = s3policy.tenant_user_policy(step.spec.s3_bucket, "*")  # every tenant's prefix
    iam(moto_url).put_user_policy(
        UserName=step.user_name,
        PolicyName=s3policy.USER_POLICY_NAME,
        PolicyDocument=json.dumps(wide),
    )
    assert step.check() == [f"IAM user {step.user_name}'s policy tenant-prefix differs"]
    step.apply()
    assert step.check() == []
    assert not s3policy.user_allowed(
        user_policy(moto_url, step),
        "s3:GetObject",
        f"arn:aws:s3:::{step.spec.s3_bucket}/tenants/other/a.jpg",
    )


def test_destroy_of_an_old_tenant_removes_its_policy_statements_and_user(s3, moto_url, settings):
    bucket = settings.PORTAL_S3_BUCKET
    doomed, neighbour = s3(), s3()
    doomed.apply()
    neighbour.apply()
    as_old_portal_left_it(moto_url, bucket, doomed)
    # Half migrated: the user got its own policy, the statements were not removed yet; and
    # somebody attached another policy by hand (IAM deletes no user holding policies).
    for name, policy in (
        (s3policy.USER_POLICY_NAME, s3policy.tenant_user_policy(bucket, doomed.spec.slug)),
        ("by-hand", wide_open()),
    ):
        iam(moto_url).put_user_policy(
            UserName=doomed.user_name, PolicyName=name, PolicyDocument=json.dumps(policy)
        )

    assert doomed.destroy().status == "done"
    assert bucket_policy(moto_url, bucket) is None
    with pytest.raises(iam(moto_url).exceptions.NoSuchEntityException):
        iam(moto_url).get_user(UserName=doomed.user_name)
    assert neighbour.check() == []


def wide_open() -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }


def test_hundreds_of_tenants_leave_the_bucket_policy_as_it_was(s3, moto_url, settings):
    bucket = settings.PORTAL_S3_BUCKET
    first = s3()
    first.apply()
    platform = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "platform-backups",
                "Effect": "Allow",
                "Principal": {"AWS": ["arn:aws:iam::123456789012:user/backup"]},
                "Action": ["s3:GetObject"],
                "Resource": [f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }
    client(moto_url).put_bucket_policy(Bucket=bucket, Policy=json.dumps(platform))
    before = client(moto_url).get_bucket_policy(Bucket=bucket)["Policy"]

    steps = [first, *(s3() for _ in range(TENANTS - 1))]
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda step: step.apply(), steps[1:]))
    assert {o.status for o in outcomes} == {"done"}
    assert client(moto_url).get_bucket_policy(Bucket=bucket)["Policy"] == before
    # Every tenant still reaches its own prefix and nobody else's.
    last, neighbour = steps[-1], steps[-2]
    assert last.check() == []
    arn = iam(moto_url).get_user(UserName=last.user_name)["User"]["Arn"]
    mine = (user_policy(moto_url, last),)
    for owner, expected in ((last, True), (neighbour, False), (first, False)):
        assert (
            s3policy.account_allowed(
                arn,
                "s3:GetObject",
                f"arn:aws:s3:::{bucket}/{owner.spec.s3_prefix}a.jpg",
                bucket_policy=platform,
                user_policies=mine,
            )
            is expected
        )


TENANTS = 200


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

    with pytest.raises(iam(moto_url).exceptions.NoSuchEntityException):
        iam(moto_url).get_user(UserName=doomed.user_name)
    assert user_policy(moto_url, neighbour) is not None
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
    assert plan["iam_user"] == "wp-tenant-my-site"
    assert plan["iam_user_policy"]["name"] == "tenant-prefix"
    granted = plan["iam_user_policy"]["document"]["Statement"]
    assert granted[0]["Resource"] == ["arn:aws:s3:::wordpress-media/tenants/my-site/*"]
    assert "bucket_policy_statements" not in plan
    assert secrets.values == {}


# --- ownership: the IAM user's tenant tag is the marker -----------------------------------------


def a_stranger(url: str, name: str, tags: list[dict] = ()) -> str:
    """An IAM user someone else made under the tenant's name, with a key and a policy of its own."""
    client_iam = iam(url)
    client_iam.create_user(UserName=name, Tags=list(tags))
    client_iam.put_user_policy(UserName=name, PolicyName="theirs", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets",
                                                 "Resource": "*"}]}))  # fmt: skip
    return client_iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]


def as_found(url: str, name: str) -> tuple:
    client_iam = iam(url)
    return (
        [k["AccessKeyId"] for k in client_iam.list_access_keys(UserName=name)["AccessKeyMetadata"]],
        client_iam.list_user_policies(UserName=name)["PolicyNames"],
        client_iam.list_user_tags(UserName=name)["Tags"],
    )


def test_the_tenant_user_carries_the_tenant_tag_and_is_adopted_by_it(s3, moto_url):
    step = s3()
    step.apply()
    tags = iam(moto_url).list_user_tags(UserName=step.user_name)["Tags"]
    assert tags == [{"Key": "portal.wp.ionos/tenant", "Value": step.spec.slug}]
    again = StorageStep(StepContext(spec=step.spec, secrets=step.ctx.secrets))
    assert again.check() == []
    assert again.apply().status == "unchanged"


@pytest.mark.parametrize("tags", [[], [{"Key": "portal.wp.ionos/tenant", "Value": "other-one"}]])
def test_an_iam_user_not_the_tenants_fails_the_step_and_changes_nothing(
    s3, moto_url, settings, tags
):
    step = s3()
    key_id = a_stranger(moto_url, step.user_name, tags)
    before = as_found(moto_url, step.user_name)

    whose = "tenant other-one's" if tags else "not the portal's"
    assert step.check()[-1] == f"IAM user {step.user_name} exists and is {whose}"
    with pytest.raises(StepFailed) as failed:
        step.apply()
    assert f"IAM user {step.user_name} already exists and is {whose}" in str(failed.value)
    assert "nothing was changed" in str(failed.value)
    assert as_found(moto_url, step.user_name) == before and key_id in before[0]
    assert step.ctx.secrets.values == {}
    bucket = settings.PORTAL_S3_BUCKET
    assert bucket not in {b["Name"] for b in client(moto_url).list_buckets()["Buckets"]}


def test_destroy_leaves_an_iam_user_that_is_not_the_tenants(s3, moto_url):
    step = s3()
    a_stranger(moto_url, step.user_name)
    before = as_found(moto_url, step.user_name)
    outcome = step.destroy()
    assert f"left IAM user {step.user_name} alone: it is not the portal's" in outcome.message
    assert as_found(moto_url, step.user_name) == before
