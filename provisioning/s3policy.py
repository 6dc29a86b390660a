"""A tenant's bucket-policy statements, and a small evaluator that checks what they allow."""

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


def statement_ids(slug: str) -> tuple[str, str]:
    """The Sids that name a tenant's statements: the only ones its steps touch."""
    return f"tenant-{slug}-objects", f"tenant-{slug}-list"


def tenant_statements(bucket: str, slug: str, principal_arn: str, kind: str = "AWS") -> list[dict]:
    """Allow the principal the objects under tenants/<slug>/ and a listing of that prefix only.

    kind is the principal's type: "AWS" for an ARN, "CanonicalUser" for an S3 canonical user id
    (IONOS users on user-owned buckets).
    """
    prefix = f"tenants/{slug}/"
    objects_sid, list_sid = statement_ids(slug)
    principal = {kind: [principal_arn]}
    return [
        {
            "Sid": objects_sid,
            "Effect": "Allow",
            "Principal": principal,
            "Action": list(OBJECT_ACTIONS),
            "Resource": [f"arn:aws:s3:::{bucket}/{prefix}*"],
        },
        {
            "Sid": list_sid,
            "Effect": "Allow",
            "Principal": principal,
            "Action": ["s3:ListBucket"],
            "Resource": [f"arn:aws:s3:::{bucket}"],
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        },
    ]


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


def _applies(statement: dict, principal: str, action: str, resource: str, context: dict) -> bool:
    unsupported = {"NotPrincipal", "NotAction", "NotResource"} & statement.keys()
    if unsupported:
        raise ValueError(f"{', '.join(sorted(unsupported))} is not understood")
    return (
        _principal_matches(statement.get("Principal", {}), principal)
        and _matches(statement["Action"], action, case_sensitive=False)
        and _matches(statement["Resource"], resource)
        and _conditions_hold(statement.get("Condition", {}), context)
    )


def allowed(
    policy: dict, principal: str, action: str, resource: str, context: dict | None = None
) -> bool:
    """Whether the bucket policy lets principal do action on resource (ARNs, s3:Action)."""
    applying = [
        s
        for s in policy.get("Statement", [])
        if _applies(s, principal, action, resource, context or {})
    ]
    if any(s["Effect"] == "Deny" for s in applying):
        return False
    return any(s["Effect"] == "Allow" for s in applying)
