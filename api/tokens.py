"""Making, checking and revoking personal API tokens; the plain token is shown only once."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from api.models import ApiToken
from portal.errors import ApplicationError
from tenants.audit import audit_record
from tenants.models import AuditEvent

Action = AuditEvent.Action

PREFIX = "ptk_"


def token_digest(token: str) -> str:
    # Tokens carry 256 random bits: a plain SHA-256 is enough, no slow hash needed.
    return hashlib.sha256(token.encode()).hexdigest()


def token_problems(*, name: str | None, days: int | None) -> dict[str, list[str]]:
    """Field -> what is wrong with it, every field at once; None: not judged (the form's own
    field already refused it)."""
    errors: dict[str, list[str]] = {}
    if name is not None:
        name = name.strip()
        if not name:
            errors["name"] = ["Give the token a name, e.g. what script uses it."]
        elif len(name) > 60:
            errors["name"] = ["Keep the name to 60 characters."]
    if days is not None and not 1 <= days <= settings.PORTAL_API_TOKEN_MAX_DAYS:
        errors["days"] = [f"A token lives between 1 and {settings.PORTAL_API_TOKEN_MAX_DAYS} days."]
    return errors


def token_create(*, user, name: str, days: int) -> tuple[ApiToken, str]:
    """A new token of the user's; returns the row and the plain token to show once."""
    name = (name or "").strip()
    errors = token_problems(name=name, days=days)
    if errors:
        raise ValidationError(errors)
    plain = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user=user,
        name=name,
        prefix=plain[: len(PREFIX) + 6],
        digest=token_digest(plain),
        expires_at=timezone.now() + timedelta(days=days),
    )
    try:
        with transaction.atomic():
            row.save()
            audit_record(
                action=Action.TOKEN_CREATED,
                actor=user,
                obj=row,
                after={"name": row.name, "expires_at": row.expires_at},
                message=f"API token “{row.name}” created, valid for {days} days.",
            )
    except IntegrityError as exc:
        raise ValidationError({"name": ["You already have a token of that name."]}) from exc
    return row, plain


def token_revoke(*, user, token_id: int) -> ApiToken:
    """Revoke one of the user's own tokens; it stops working at once."""
    row = ApiToken.objects.filter(pk=token_id, user=user).first()
    if row is None:
        raise ApplicationError("That token does not exist.")
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=row.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        row.refresh_from_db()
        if revoked:  # a second click changes nothing and records nothing
            audit_record(
                action=Action.TOKEN_REVOKED,
                actor=user,
                obj=row,
                message=f"API token “{row.name}” revoked.",
            )
    return row


def token_refused(*, token: ApiToken, why: str) -> None:
    """Record that a revoked or expired token was presented: someone still holds it.

    Once an hour per token, so a script retrying in a loop can't flood the audit trail."""
    if not cache.add(f"api-token-refused:{token.pk}", 1, timeout=3600):
        return
    audit_record(
        action=Action.TOKEN_REFUSED,
        actor_name=f"API token “{token.name}” of {token.user.get_username()}",
        obj=token,
        message=f"A call with API token “{token.name}” was refused: it {why}.",
    )


def token_lookup(plain: str) -> ApiToken | None:
    """The token row the plain token names, active or not; None if there is none."""
    if not plain.startswith(PREFIX):
        return None
    return ApiToken.objects.select_related("user").filter(digest=token_digest(plain)).first()


def token_touch(*, token: ApiToken, ip: str | None) -> None:
    """Record the use; at most once a minute, so busy scripts don't write on every call."""
    now = timezone.now()
    if token.last_used_at and now - token.last_used_at < timedelta(minutes=1):
        return
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_used_ip=ip)
