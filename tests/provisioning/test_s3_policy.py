"""The tenant's bucket-policy statements, evaluated on their own (moto doesn't enforce them)."""

import pytest

from provisioning.s3policy import allowed, normalized, tenant_statements

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


def obj(key: str) -> str:
    return f"arn:aws:s3:::{BUCKET}/{key}"


@pytest.mark.parametrize("action", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"])
def test_tenant_reaches_its_own_prefix(action):
    assert allowed(POLICY, ALICE, action, obj("tenants/alice/2026/11/cat.jpg"))


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
def test_tenant_is_refused_anywhere_else(key):
    assert not allowed(POLICY, ALICE, "s3:GetObject", obj(key))
    assert not allowed(POLICY, ALICE, "s3:PutObject", obj(key))


def test_tenant_lists_its_prefix_only():
    bucket = f"arn:aws:s3:::{BUCKET}"
    assert allowed(POLICY, ALICE, "s3:ListBucket", bucket, {"s3:prefix": "tenants/alice/"})
    assert allowed(POLICY, ALICE, "s3:ListBucket", bucket, {"s3:prefix": "tenants/alice/2026/"})
    for prefix in ("tenants/bob/", "tenants/", "", "tenants/alice"):
        assert not allowed(POLICY, ALICE, "s3:ListBucket", bucket, {"s3:prefix": prefix})
    assert not allowed(POLICY, ALICE, "s3:ListBucket", bucket)  # no prefix: the whole bucket


def test_nothing_else_is_granted():
    for action in ("s3:DeleteBucket", "s3:PutBucketPolicy", "s3:GetBucketPolicy", "s3:*"):
        assert not allowed(POLICY, ALICE, action, f"arn:aws:s3:::{BUCKET}")
    stranger = "arn:aws:iam::123456789012:user/someone"
    assert not allowed(POLICY, stranger, "s3:GetObject", obj("tenants/alice/cat.jpg"))
    # Object statements never cover the ListBucket action, nor bucket-level resources.
    assert not allowed(POLICY, ALICE, "s3:PutObject", f"arn:aws:s3:::{BUCKET}")


def test_explicit_deny_wins_and_unknown_elements_are_refused():
    denied = {
        "Statement": [
            *POLICY["Statement"],
            {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": obj("*")},
        ]
    }
    assert not allowed(denied, ALICE, "s3:GetObject", obj("tenants/alice/cat.jpg"))
    odd = {"Statement": [{"Effect": "Allow", "NotPrincipal": {"AWS": BOB}, "Action": "s3:*"}]}
    with pytest.raises(ValueError, match="NotPrincipal"):
        allowed(odd, ALICE, "s3:GetObject", obj("x"))


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
