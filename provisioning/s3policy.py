"""A tenant's S3 policy (its IAM user's own, or bucket-policy statements), and an evaluator."""

import json
import re
from functools import cache

# Object actions WordPress media offload needs on its own prefix, and nothing else.
OBJECT_ACTIONS = [
    "s3:AbortMultipartUpload",
    "s3:DeleteObject",
    "s3:GetObject",
    "s3:ListMultipartUploadParts",
    "s3:PutObject",
]


# The name of the inline policy on a tenant's IAM user (PORTAL_S3_CREDENTIALS=iam).
USER_POLICY_NAME = "tenant-prefix"


def statement_ids(slug: str) -> tuple[str, str]:
    """The Sids that name a tenant's bucket-policy statements: the only ones its steps touch."""
    return f"tenant-{slug}-objects", f"tenant-{slug}-list"


_SID = re.compile(r"tenant-(.+)-(?:objects|list)")


def _grants(bucket: str, slug: str) -> tuple[dict, dict]:
    """The objects under tenants/<slug>/, and a listing of that prefix only.

    Two statements, not one: a condition binds every action of its statement, and a request for
    an object carries no s3:prefix, so StringLike on it would refuse the objects; the IfExists
    form would let a listing without a prefix (the whole bucket) through.
    """
    prefix = f"tenants/{slug}/"
    objects = {
        "Action": list(OBJECT_ACTIONS),
        "Resource": [f"arn:aws:s3:::{bucket}/{prefix}*"],
    }
    listing = {
        "Action": ["s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{bucket}"],
        "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
    }
    return objects, listing


def tenant_statements(bucket: str, slug: str, principal_arn: str, kind: str = "AWS") -> list[dict]:
    """Bucket-policy statements allowing the principal its prefix (PORTAL_S3_CREDENTIALS=ionos).

    kind is the principal's type: "AWS" for an ARN (IAM users; IONOS users on contract-owned
    buckets), "CanonicalUser" for an S3 canonical user id (IONOS users on user-owned buckets).
    """
    principal = {kind: [principal_arn]}
    return [
        {"Sid": sid, "Effect": "Allow", "Principal": principal, **grant}
        for sid, grant in zip(statement_ids(slug), _grants(bucket, slug), strict=True)
    ]


# The one statement that lets browsers fetch every tenant's media, as WordPress links it.
PUBLIC_READ_SID = "tenants-public-read"


def public_read_statement(bucket: str) -> dict:
    """Anyone may GET objects under tenants/ (nothing else: no listing, no writes).

    One statement for all tenants, so the shared policy doesn't grow with them; IONOS documents
    the same form for public read access ("Principal": "*", "s3:GetObject" on a prefix).
    """
    return {
        "Sid": PUBLIC_READ_SID,
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["s3:GetObject"],
        "Resource": [f"arn:aws:s3:::{bucket}/tenants/*"],
    }


def tenant_user_policy(bucket: str, slug: str) -> dict:
    """The identity-based policy of a tenant's IAM user: the same grants, no Principal (it holds
    for whoever it is attached to), and nothing in the shared bucket policy, whose size S3 caps.
    """
    # IAM takes only letters and digits in a Sid.
    sids = ("TenantObjects", "TenantList")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": sid, "Effect": "Allow", **grant}
            for sid, grant in zip(sids, _grants(bucket, slug), strict=True)
        ],
    }


def statements(policy: dict) -> list[dict]:
    """A policy's statements; a policy may hold a single one without the list."""
    found = policy.get("Statement", [])
    return [found] if isinstance(found, dict) else list(found)


def same_statements(present: list[dict], wanted: list[dict]) -> bool:
    """Whether two lists of statements say the same, whatever the form a server handed back."""
    key = lambda s: json.dumps(s, sort_keys=True)  # noqa: E731
    return sorted(map(key, map(normalized, present))) == sorted(map(key, map(normalized, wanted)))


def encoded(policy: dict) -> str:
    """The policy as the portal sends it: compact, since S3 counts its bytes against the limit."""
    return json.dumps(policy, separators=(",", ":"))


def size(policy: dict) -> int:
    return len(encoded(policy).encode())


def tenants_in(policy: dict) -> set[str]:
    """The slugs of the tenants whose statements a bucket policy holds."""
    return {m[1] for s in statements(policy) if (m := _SID.fullmatch(str(s.get("Sid", ""))))}


def _listed(value) -> list:
    return sorted(value) if isinstance(value, list) else [value]


def normalized(statement: dict) -> dict:
    """A statement as servers hand it back (one-item lists may come back as strings), sorted."""
    out = dict(statement)
    for key in ("Action", "Resource"):
        if key in out:
            out[key] = _listed(out[key])
    if isinstance(out.get("Principal"), dict):
        out["Principal"] = {k: _listed(v) for k, v in out["Principal"].items()}
    if "Condition" in out:
        out["Condition"] = {
            op: {key: _listed(v) for key, v in pairs.items()}
            for op, pairs in out["Condition"].items()
        }
    return out


# --- evaluation: explicit deny wins, then any allow, else the implicit deny ---------------------


@cache
def _pattern(glob: str, case_sensitive: bool) -> re.Pattern:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in glob)
    return re.compile(body, 0 if case_sensitive else re.IGNORECASE)


def _matches(patterns, value: str, case_sensitive: bool = True) -> bool:
    return any(_pattern(p, case_sensitive).fullmatch(value) for p in _listed(patterns))


def _principal_matches(principal, arn: str) -> bool:
    if principal == "*":
        return True
    # An ARN never equals a canonical user id, so one lookup serves both kinds.
    return any(_matches(principal.get(kind, []), arn) for kind in ("AWS", "CanonicalUser"))


def _conditions_hold(conditions: dict, context: dict[str, str]) -> bool:
    for operator, pairs in conditions.items():
        for key, expected in pairs.items():
            actual = context.get(key)
            if operator == "StringLike":
                held = actual is not None and _matches(expected, actual)
            elif operator == "StringEquals":
                held = actual is not None and actual in _listed(expected)
            elif operator == "StringNotLike":
                held = actual is None or not _matches(expected, actual)
            else:
                raise ValueError(f"condition operator {operator} is not understood")
            if not held:
                return False
    return True


def _applies(
    statement: dict, principal: str | None, action: str, resource: str, context: dict
) -> bool:
    unsupported = {"NotPrincipal", "NotAction", "NotResource"} & statement.keys()
    if unsupported:
        raise ValueError(f"{', '.join(sorted(unsupported))} is not understood")
    if principal is None:
        # An identity-based policy holds for whoever it is attached to; IAM refuses a Principal.
        if "Principal" in statement:
            raise ValueError("an identity-based policy names no Principal")
    elif "Principal" not in statement:
        raise ValueError("a bucket-policy statement needs a Principal")
    elif not _principal_matches(statement["Principal"], principal):
        return False
    return (
        _matches(statement["Action"], action, case_sensitive=False)
        and _matches(statement["Resource"], resource)
        and _conditions_hold(statement.get("Condition", {}), context)
    )


def allowed(
    policy: dict, principal: str, action: str, resource: str, context: dict | None = None
) -> bool:
    """Whether the bucket policy lets principal do action on resource (ARNs, s3:Action)."""
    return account_allowed(principal, action, resource, context, bucket_policy=policy)


def user_allowed(policy: dict, action: str, resource: str, context: dict | None = None) -> bool:
    """Whether an identity-based policy (an IAM user's own) lets its holder do action."""
    return account_allowed("", action, resource, context, user_policies=(policy,))


def account_allowed(
    principal: str,
    action: str,
    resource: str,
    context: dict | None = None,
    *,
    bucket_policy: dict | None = None,
    user_policies: tuple[dict, ...] = (),
) -> bool:
    """What S3 decides for a user of the bucket owner's account: an explicit deny in the bucket
    policy or in any of the user's own policies wins, else an allow in any of them, else no."""
    context = context or {}
    applying = [
        s
        for s in statements(bucket_policy or {})
        if _applies(s, principal, action, resource, context)
    ]
    applying += [
        s
        for policy in user_policies
        for s in statements(policy)
        if _applies(s, None, action, resource, context)
    ]
    if any(s["Effect"] == "Deny" for s in applying):
        return False
    return any(s["Effect"] == "Allow" for s in applying)
