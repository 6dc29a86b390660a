"""The tenant's S3 policies, evaluated on their own (moto stores policies but doesn't enforce
them): its IAM user's own policy (iam mode) and its bucket-policy statements (ionos mode)."""

import secrets

import pytest

from provisioning.s3policy import (
    account_allowed,
    allowed,
    normalized,
    size,
    tenant_statements,
    tenant_user_policy,
    tenants_in,
    user_allowed,
)

BUCKET = "wordpress-media"
ALICE = "arn:aws:iam::123456789012:user/wp-tenant-alice"
BOB = "arn:aws:iam::123456789012:user/wp-tenant-bob"
POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        *tenant_statements(BUCKET, "alice", ALICE),
        *tenant_statements(BUCKET, "bob", BOB),
    ],
}
ALICE_OWN = tenant_user_policy(BUCKET, "alice")
BOB_OWN = tenant_user_policy(BUCKET, "bob")

# What S3 decides for Alice: through the shared bucket policy, or through her user's own policy
# (and Bob's own policy, attached to Bob, grants her nothing).
FORMS = {
    "bucket policy": lambda action, resource, context=None: allowed(
        POLICY, ALICE, action, resource, context
    ),
    "user policy": lambda action, resource, context=None: account_allowed(
        ALICE, action, resource, context, user_policies=(ALICE_OWN,)
    ),
}
each_form = pytest.mark.parametrize("may", FORMS.values(), ids=FORMS.keys())


def obj(key: str) -> str:
    return f"arn:aws:s3:::{BUCKET}/{key}"


@each_form
@pytest.mark.parametrize("action", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
def test_tenant_reaches_its_own_prefix(may, action):
    assert may(action, obj("tenants/alice/2026/11/cat.jpg"))


@each_form
@pytest.mark.parametrize(
    "key",
    [
        "tenants/bob/2026/11/cat.jpg",  # another tenant
        "tenants/alice-2/cat.jpg",  # a lookalike prefix
        "tenants/alicex/cat.jpg",
        "backups/db.sql",  # outside every tenant
        "tenants/cat.jpg",
    ],
)
def test_tenant_is_refused_anywhere_else(may, key):
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
        assert not may(action, obj(key))


@each_form
def test_tenant_lists_its_prefix_only(may):
    bucket = f"arn:aws:s3:::{BUCKET}"
    assert may("s3:ListBucket", bucket, {"s3:prefix": "tenants/alice/"})
    assert may("s3:ListBucket", bucket, {"s3:prefix": "tenants/alice/2026/"})
    for prefix in ("tenants/bob/", "tenants/", "", "tenants/alice", "backups/"):
        assert not may("s3:ListBucket", bucket, {"s3:prefix": prefix})
    assert not may("s3:ListBucket", bucket)  # no prefix: the whole bucket


@each_form
def test_nothing_else_is_granted(may):
    for action in ("s3:DeleteBucket", "s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:*"):
        assert not may(action, f"arn:aws:s3:::{BUCKET}")
    # Object statements never cover the ListBucket action, nor bucket-level resources.
    assert not may("s3:PutObject", f"arn:aws:s3:::{BUCKET}")
    assert not may("s3:GetObject", "arn:aws:s3:::another-bucket/tenants/alice/cat.jpg")


def test_a_stranger_gets_nothing_from_the_tenants_policies():
    stranger = "arn:aws:iam::123456789012:user/someone"
    assert not allowed(POLICY, stranger, "s3:GetObject", obj("tenants/alice/cat.jpg"))
    # Bob's own policy, attached to Bob, reaches Bob's prefix only.
    assert user_allowed(BOB_OWN, "s3:GetObject", obj("tenants/bob/cat.jpg"))
    assert not user_allowed(BOB_OWN, "s3:GetObject", obj("tenants/alice/cat.jpg"))


def test_explicit_deny_wins_and_unknown_elements_are_refused():
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": obj("*")}
    denied = {"Statement": [*POLICY["Statement"], deny]}
    own = obj("tenants/alice/cat.jpg")
    assert not allowed(denied, ALICE, "s3:GetObject", own)
    # A deny in the bucket policy beats an allow in the user's own policy too.
    assert not account_allowed(
        ALICE, "s3:GetObject", own, bucket_policy={"Statement": [deny]}, user_policies=(ALICE_OWN,)
    )
    # During the move out of the bucket policy either grant is enough.
    assert account_allowed(ALICE, "s3:GetObject", own, bucket_policy=POLICY)
    odd = {"Statement": [{"Effect": "Allow", "NotPrincipal": {"AWS": BOB}, "Action": "s3:*"}]}
    with pytest.raises(ValueError, match="NotPrincipal"):
        allowed(odd, ALICE, "s3:GetObject", obj("x"))


def test_bucket_and_user_policy_statements_are_not_mistaken_for_each_other():
    # A user's policy naming a Principal is not a user policy; IAM would refuse it.
    with pytest.raises(ValueError, match="names no Principal"):
        user_allowed(POLICY, "s3:GetObject", obj("tenants/alice/cat.jpg"))
    # A bucket statement without a Principal grants nobody in particular; S3 would refuse it.
    with pytest.raises(ValueError, match="needs a Principal"):
        allowed(ALICE_OWN, ALICE, "s3:GetObject", obj("tenants/alice/cat.jpg"))
    assert all("Principal" not in s for s in ALICE_OWN["Statement"])
    assert all(s["Sid"].isalnum() for s in ALICE_OWN["Statement"])  # IAM's rule for Sids


def test_normalized_accepts_what_servers_hand_back():
    mine = tenant_statements(BUCKET, "alice", ALICE)[1]
    flattened = {
        **mine,
        "Principal": {"AWS": ALICE},
        "Action": "s3:ListBucket",
        "Resource": f"arn:aws:s3:::{BUCKET}",
        "Condition": {"StringLike": {"s3:prefix": "tenants/alice/*"}},
    }
    assert normalized(flattened) == normalized(mine)
    single = {**ALICE_OWN, "Statement": ALICE_OWN["Statement"][0]}  # one statement, no list
    assert user_allowed(single, "s3:GetObject", obj("tenants/alice/cat.jpg"))


@pytest.mark.parametrize("slug_length, at_least", [(12, 32), (30, 29)])
def test_how_many_ionos_tenants_one_bucket_policy_holds(slug_length, at_least):
    """IONOS users have 64-hex canonical ids; S3 takes a bucket policy of up to 20,480 bytes."""
    policy = {"Version": "2012-10-17", "Statement": []}
    fitting = 0
    while True:
        slug = f"{fitting:03d}{'x' * slug_length}"[:slug_length]
        grown = {
            **policy,
            "Statement": [
                *policy["Statement"],
                *tenant_statements(BUCKET, slug, secrets.token_hex(32), "CanonicalUser"),
            ],
        }
        if size(grown) > 20480:
            break
        policy, fitting = grown, fitting + 1
    assert fitting >= at_least
    assert len(tenants_in(policy)) == fitting
