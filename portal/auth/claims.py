"""What Authentik's claims say about a user: profile fields and the role from the groups claim."""

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from portal import roles
from tenants.audit import audit_record
from tenants.models import AuditEvent


def claims_groups(extra_data: dict | None) -> list[str]:
    """The `groups` claim from userinfo or the ID token (Authentik sends both)."""
    data = extra_data or {}
    for source in (data.get("userinfo"), data.get("id_token"), data):
        groups = source.get("groups") if isinstance(source, dict) else None
        if isinstance(groups, list):
            return [str(g) for g in groups]
    return []


def claims_profile(extra_data: dict | None) -> dict:
    """Email and names as the provider states them now; missing claims are left out."""
    data = extra_data or {}
    merged = {**(data.get("id_token") or {}), **(data.get("userinfo") or {})}
    profile = {}
    if merged.get("email"):
        profile["email"] = str(merged["email"])[:254]
    name = str(merged.get("name") or "").strip()
    first = merged.get("given_name") or name.partition(" ")[0]
    last = merged.get("family_name") or name.partition(" ")[2]
    if first or last:
        profile["first_name"] = str(first or "")[:150]
        profile["last_name"] = str(last or "")[:150]
    return profile


def authentik_username(user) -> str:
    """The user's Authentik user name (the preferred_username claim of their sign-in), which
    can differ from the portal's when that name was taken here; else the portal's."""
    names = (preferred_username(account.extra_data) for account in user.socialaccount_set.all())
    return next((name for name in names if name), user.get_username())


def preferred_username(extra_data: dict | None) -> str:
    """The preferred_username claim of one sign-in's data, "" when it has none."""
    data = extra_data or {}
    merged = {**(data.get("id_token") or {}), **(data.get("userinfo") or {}), **data}
    name = merged.get("preferred_username")
    return name if isinstance(name, str) and name else ""


def user_sync_from_claims(
    *, user: AbstractBaseUser, extra_data: dict | None, source: str, new: bool = False
) -> roles.Role:
    """Bring the user's profile and role in line with the claims; audit a changed role."""
    groups = claims_groups(extra_data)
    with transaction.atomic():
        changed = [f for f, v in claims_profile(extra_data).items() if getattr(user, f) != v]
        for field in changed:
            setattr(user, field, claims_profile(extra_data)[field])
        if changed:
            user.save(update_fields=changed)
        user._portal_role = None
        # A new account had no role before; its first one is worth a line in the audit too.
        before = None if new else roles.role_of(user)
        roles.user_set_role(user=user, role=roles.role_from_claims(groups))
        after = roles.role_of(user)
        if before != after:
            audit_record(
                action=AuditEvent.Action.USER_ROLE_CHANGED,
                actor_name=source,
                obj=user,
                before={"role": str(before) if before else None},
                after={"role": str(after), "groups": groups},
                message=f"Role set from the groups {source} sent at sign-in.",
            )
    return after
