"""The storage step with PORTAL_S3_CREDENTIALS=ionos: S3 on moto, users and keys on fake IONOS."""

import json
import uuid

import pytest

from provisioning import s3policy
from provisioning.errors import StepFailed, TransientError
from provisioning.secrets import S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, MemorySecrets
from provisioning.steps.base import StepContext
from provisioning.steps.storage import StorageStep
from tests.provisioning.test_database import make_spec
from tests.provisioning.test_storage import client, s3, versions_under  # noqa: F401

USERS = "/cloudapi/v6/um/users"


@pytest.fixture
def tenant(s3, ionos_api, settings):  # noqa: F811
    """Storage steps in ionos mode: the bucket on moto, the tenants' users on the IONOS fake."""
    settings.PORTAL_S3_CREDENTIALS = "ionos"
    # User-owned buckets (canonical user ids); contract-owned ones: test_ionos_principal.py.
    settings.PORTAL_IONOS_BUCKET_TYPE = "user"
    return s3


def ionos_user(fake, step: StorageStep) -> dict | None:
    return fake.user_by_email(f"wp-tenant-{step.spec.slug}@tenants.example.com")


def policy_of(url: str, bucket: str) -> dict:
    return json.loads(client(url).get_bucket_policy(Bucket=bucket)["Policy"])


def test_apply_creates_the_user_and_one_key_and_names_it_in_the_policy(
    tenant,
    ionos_api,
    moto_url,  # noqa: F811
    settings,
):
    step = tenant()
    assert step.apply().status == "done"
    user = ionos_api.user_by_email(f"wp-tenant-{step.spec.slug}@tenants.example.com")
    assert user["properties"]["administrator"] is False
    assert user["properties"]["forceSecAuth"] is False
    keys = ionos_api.s3keys[user["id"]]
    key_id = step.ctx.secrets.get(S3_ACCESS_KEY_ID)
    assert list(keys) == [key_id]
    assert step.ctx.secrets.get(S3_SECRET_ACCESS_KEY) == keys[key_id]["secretKey"]
    assert user["password"] not in step.ctx.secrets.values.values()  # the password is nowhere

    bucket = settings.PORTAL_S3_BUCKET
    tenant_s3 = client(
        moto_url,
        aws_access_key_id=key_id,
        aws_secret_access_key=step.ctx.secrets.get(S3_SECRET_ACCESS_KEY),
    )
    own = f"{step.spec.s3_prefix}2026/photo.jpg"
    tenant_s3.put_object(Bucket=bucket, Key=own, Body=b"jpeg")
    assert tenant_s3.get_object(Bucket=bucket, Key=own)["Body"].read() == b"jpeg"

    policy = policy_of(moto_url, bucket)
    canonical = user["properties"]["s3CanonicalUserId"]
    principals = {json.dumps(s["Principal"]) for s in policy["Statement"]}
    assert principals == {json.dumps({"CanonicalUser": [canonical]})}
    assert s3policy.allowed(policy, canonical, "s3:PutObject", f"arn:aws:s3:::{bucket}/{own}")
    assert s3policy.allowed(
        policy,
        canonical,
        "s3:ListBucket",
        f"arn:aws:s3:::{bucket}",
        {"s3:prefix": step.spec.s3_prefix},
    )
    other = f"arn:aws:s3:::{bucket}/tenants/someone-else/x"
    assert not s3policy.allowed(policy, canonical, "s3:GetObject", other)
    assert not s3policy.allowed(
        policy, canonical, "s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": ""}
    )


def test_second_apply_changes_nothing(tenant, ionos_api, moto_url, settings):  # noqa: F811
    step = tenant()
    step.apply()
    secrets_before = dict(step.ctx.secrets.values)
    policy_before = policy_of(moto_url, settings.PORTAL_S3_BUCKET)
    writes_before = list(ionos_api.writes())
    assert step.check() == []
    assert step.apply().status == "unchanged"
    assert ionos_api.writes() == writes_before  # no IONOS call but reads
    assert step.ctx.secrets.values == secrets_before
    assert policy_of(moto_url, settings.PORTAL_S3_BUCKET) == policy_before


def test_a_lost_key_is_replaced_and_the_orphan_deleted(tenant, ionos_api):
    step = tenant()
    step.apply()
    user = ionos_user(ionos_api, step)
    lost = step.ctx.secrets.get(S3_ACCESS_KEY_ID)
    # A crash after IONOS made the key, before the Secret got it: the Secret is empty.
    step.ctx.secrets.values.clear()
    assert "no S3 access key in the tenant's Secret yet" in step.check()
    assert "created an access key" in step.apply().message
    kept = step.ctx.secrets.get(S3_ACCESS_KEY_ID)
    assert kept != lost
    assert list(ionos_api.s3keys[user["id"]]) == [kept]
    assert step.check() == []

    # Someone added a key by hand: the Secret doesn't hold it, so it goes.
    stray = ionos_api.handle("POST", f"{USERS}/{user['id']}/s3keys", {}, {})[1]["id"]
    assert "1 access key(s) the Secret doesn't hold" in step.check()
    step.apply()
    assert list(ionos_api.s3keys[user["id"]]) == [kept] and stray != kept


def test_destroy_removes_objects_keys_user_and_statements_only_of_the_tenant(
    tenant,
    ionos_api,
    moto_url,  # noqa: F811
    settings,
):
    bucket = settings.PORTAL_S3_BUCKET
    doomed, neighbour = tenant(), tenant()
    doomed.apply()
    neighbour.apply()
    admin = client(moto_url)
    for i in range(30):
        admin.put_object(Bucket=bucket, Key=f"{doomed.spec.s3_prefix}{i}.jpg", Body=b"v")
    admin.put_object(Bucket=bucket, Key=f"{neighbour.spec.s3_prefix}keep.jpg", Body=b"v")
    user_id = ionos_user(ionos_api, doomed)["id"]

    outcome = doomed.destroy()
    assert "deleted 30 object versions" in outcome.message
    assert f"IONOS user wp-tenant-{doomed.spec.slug}@tenants.example.com" in outcome.message
    assert ionos_user(ionos_api, doomed) is None and not ionos_api.s3keys.get(user_id)
    assert ("DELETE", f"{USERS}/{user_id}") in ionos_api.writes()
    assert versions_under(moto_url, bucket, doomed.spec.s3_prefix) == []
    assert len(versions_under(moto_url, bucket, neighbour.spec.s3_prefix)) == 1
    assert {s["Sid"] for s in policy_of(moto_url, bucket)["Statement"]} == set(
        s3policy.statement_ids(neighbour.spec.slug)
    )
    assert neighbour.check() == []
    assert doomed.destroy().status == "done"  # gone already counts as removed


@pytest.mark.usefixtures("no_request_retries")  # the engine's retry, not the driver's
@pytest.mark.parametrize("status", [500, 503, 429])
def test_ionos_trouble_is_retried_and_then_succeeds(tenant, ionos_api, status):
    step = tenant()
    ionos_api.fail_next(USERS, status, method="POST")
    with pytest.raises(TransientError, match=f"answered {status}"):
        step.apply()
    assert step.apply().status == "done"  # what the engine's retry does
    assert len(ionos_api.users) == 1
    assert step.check() == []


def test_a_key_create_failing_midway_leaves_nothing_half_done(tenant, ionos_api):
    step = tenant()
    step.apply()
    user = ionos_user(ionos_api, step)
    step.ctx.secrets.values.clear()
    ionos_api.fail_next(f"{USERS}/{user['id']}/s3keys", 502, method="POST")
    with pytest.raises(TransientError):
        step.apply()
    step.apply()
    assert list(ionos_api.s3keys[user["id"]]) == [step.ctx.secrets.get(S3_ACCESS_KEY_ID)]


def test_ionos_refusal_fails_the_step_in_its_words(tenant, ionos_api, settings):
    settings.PORTAL_IONOS_TENANT_USER_DOMAIN = "no-dot"
    step = tenant()
    with pytest.raises(StepFailed) as failed:
        step.apply()
    text = str(failed.value)
    assert f"create user wp-tenant-{step.spec.slug}@no-dot" in text
    assert "is invalid" in text and ionos_api.token not in text


def test_ionos_mode_needs_a_token_and_a_mail_domain(tenant, settings):
    settings.PORTAL_IONOS_TENANT_USER_DOMAIN = ""
    with pytest.raises(StepFailed, match="PORTAL_IONOS_TENANT_USER_DOMAIN"):
        tenant().apply()
    settings.PORTAL_S3_CREDENTIALS = "vault"
    with pytest.raises(StepFailed, match="PORTAL_S3_CREDENTIALS"):
        tenant().apply()


PLANNED_USER = "wp-tenant-my-site@tenants.example.com"
CONTRACT_ARN = f"arn:aws:iam:::user/<contract number>:<user id of {PLANNED_USER}>"


@pytest.mark.parametrize(
    ("bucket_type", "principal"),
    [
        ("user", {"CanonicalUser": [f"<s3CanonicalUserId of {PLANNED_USER}>"]}),
        ("contract", {"AWS": [CONTRACT_ARN]}),
    ],
)
def test_plan_mode_names_the_ionos_user_and_its_s3_identity(settings, bucket_type, principal):
    settings.PORTAL_S3_ENDPOINT_URL = ""
    settings.PORTAL_IONOS_TOKEN = ""
    settings.PORTAL_S3_CREDENTIALS = "ionos"
    settings.PORTAL_IONOS_BUCKET_TYPE = bucket_type
    settings.PORTAL_IONOS_TENANT_USER_DOMAIN = "tenants.example.com"
    settings.PORTAL_S3_BUCKET = "wordpress-media"
    step = StorageStep(StepContext(spec=make_spec("my-site"), secrets=MemorySecrets()))
    assert step.apply().status == "planned"
    plan = json.loads(step.plan_file.read_text())
    assert plan["ionos_user"] == "wp-tenant-my-site@tenants.example.com"
    assert plan["bucket_policy_statements"][0]["Principal"] == principal
    assert plan["secret"][S3_SECRET_ACCESS_KEY] == "<generated>"


def test_two_slugs_never_share_a_user(tenant, ionos_api):
    first, second = tenant(f"a{uuid.uuid4().hex[:8]}"), tenant(f"b{uuid.uuid4().hex[:8]}")
    first.apply()
    second.apply()
    assert ionos_user(ionos_api, first)["id"] != ionos_user(ionos_api, second)["id"]
    assert first.ctx.secrets.get(S3_ACCESS_KEY_ID) != second.ctx.secrets.get(S3_ACCESS_KEY_ID)


def test_a_full_bucket_policy_refuses_the_next_tenant_and_changes_nothing(
    tenant,
    moto_url,  # noqa: F811
    settings,
):
    bucket = settings.PORTAL_S3_BUCKET
    first, second = tenant(), tenant()
    first.apply()
    second.apply()
    before = client(moto_url).get_bucket_policy(Bucket=bucket)["Policy"]
    settings.PORTAL_S3_POLICY_MAX_BYTES = len(before.encode()) + 100  # no room for a third
    third = tenant()
    with pytest.raises(StepFailed) as refused:
        third.apply()
    text = str(refused.value)
    assert f"S3 bucket {bucket} is full" in text
    assert "holds the statements of 2 tenants" in text
    assert "PORTAL_S3_POLICY_MAX_BYTES" in text and "Nothing was changed" in text
    assert client(moto_url).get_bucket_policy(Bucket=bucket)["Policy"] == before

    # The tenants already in it are not disturbed.
    assert first.check() == [] and first.apply().status == "unchanged"
    # A deleted tenant makes room: the refused one gets in when retried.
    second.destroy()
    assert third.apply().status == "done"
    assert third.check() == []
    after = client(moto_url).get_bucket_policy(Bucket=bucket)["Policy"]
    assert len(after.encode()) <= settings.PORTAL_S3_POLICY_MAX_BYTES
    assert s3policy.tenants_in(json.loads(after)) == {first.spec.slug, third.spec.slug}


def test_the_default_limit_holds_about_thirty_tenants(tenant):
    """The measured capacity of one bucket policy in ionos mode, through the step itself."""
    slug = "t{:02d}" + "x" * 27  # 30 characters, the longest a slug may be
    taken = []
    with pytest.raises(StepFailed, match="is full") as refused:
        for n in range(60):
            step = tenant(slug.format(n))
            step.apply()
            taken.append(step)
    assert f"holds the statements of {len(taken)} tenants" in str(refused.value)
    assert len(taken) >= 28
    assert all(step.check() == [] for step in taken[:3])


# --- ownership: the IONOS user's names are the marker (IONOS users take no labels) --------------


def a_person(fake, step: StorageStep, firstname: str = "Jane", lastname: str = "Doe") -> dict:
    """A user someone made by hand under the tenant's address, holding an S3 key of its own."""
    email = f"wp-tenant-{step.spec.slug}@tenants.example.com"
    body = {"properties": {"firstname": firstname, "lastname": lastname, "email": email,
                           "password": "their-password"}}  # fmt: skip
    _, user = fake.handle("POST", USERS, {}, body)
    fake.handle("POST", f"{USERS}/{user['id']}/s3keys", {}, {})
    fake.requests.clear()
    return user


def test_the_ionos_user_carries_the_marker_and_is_adopted(tenant, ionos_api):
    step = tenant()
    step.apply()
    props = ionos_user(ionos_api, step)["properties"]
    assert (props["firstname"], props["lastname"]) == ("tenant-portal", step.spec.slug)
    again = StorageStep(StepContext(spec=step.spec, secrets=step.ctx.secrets))
    assert again.check() == []
    assert again.apply().status == "unchanged"


@pytest.mark.parametrize(
    "names", [("Jane", "Doe"), ("WordPress", "tenant x"), ("tenant-portal", "b")]
)
def test_an_ionos_user_not_the_tenants_fails_the_step_and_changes_nothing(tenant, ionos_api, names):
    step = tenant()
    user = a_person(ionos_api, step, *names)
    keys = dict(ionos_api.s3keys[user["id"]])
    label = f"IONOS user wp-tenant-{step.spec.slug}@tenants.example.com"
    whose = "tenant b's" if names[0] == "tenant-portal" else "not the portal's"
    assert step.check()[-1] == f"{label} exists and is {whose}"
    with pytest.raises(StepFailed) as failed:
        step.apply()
    assert f"{label} already exists and is {whose}" in str(failed.value)
    assert "nothing was changed" in str(failed.value)
    assert ionos_api.writes() == []
    assert ionos_api.s3keys[user["id"]] == keys
    assert step.ctx.secrets.values == {}


def test_destroy_leaves_an_ionos_user_that_is_not_the_tenants(tenant, ionos_api):
    step = tenant()
    user = a_person(ionos_api, step)
    outcome = step.destroy()
    assert "alone: it is not the portal's" in outcome.message
    assert ionos_api.writes() == []
    assert user["id"] in ionos_api.users and ionos_api.s3keys[user["id"]]
