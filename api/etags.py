"""ETag and If-Match: a state-changing call names the version it read, or gets 412."""

import hashlib
import json

from rest_framework import status
from rest_framework.exceptions import APIException


class PreconditionFailed(APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The tenant changed since you read it; read it again and retry."
    default_code = "precondition_failed"


class PreconditionRequired(APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = (
        "Send If-Match with the tenant's ETag (from reading it), so you delete what you saw."
    )
    default_code = "precondition_required"


def etag_of(data: dict) -> str:
    """A strong ETag over the representation: any change a reader could see changes it."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return '"' + hashlib.sha256(canonical.encode()).hexdigest()[:32] + '"'


def check_if_match(request, current: str, *, required: bool | str = False) -> None:
    """Raise unless If-Match (if sent, or if required) names the current version; a string
    `required` is the 428's sentence."""
    header = request.headers.get("If-Match", "").strip()
    if not header:
        if required:
            raise PreconditionRequired(required if isinstance(required, str) else None)
        return
    if header == "*":
        return
    offered = {part.strip().removeprefix("W/") for part in header.split(",")}
    if current not in offered:
        raise PreconditionFailed()
