"""The portal's three roles, how a user gets one, and the checks pages and services use."""

from enum import StrEnum

from django.conf import settings
from django.contrib.auth.models import Group

# Django groups that carry each role's admin permissions (made by a tenants migration).
APPROVER_GROUP = "Platform admins"
AUDITOR_GROUP = "Auditors"


class Role(StrEnum):
    REQUESTER = "requester"
    APPROVER = "approver"
    AUDITOR = "auditor"

    @property
    def label(self) -> str:
        return {"requester": "Requester", "approver": "Platform admin", "auditor": "Auditor"}[
            self.value
        ]


def role_of(user) -> Role | None:
    if not user or not user.is_authenticated:
        return None
    cached = getattr(user, "_portal_role", None)
    if cached is None:
        names = {g.name for g in user.groups.all()}
        if user.is_superuser or APPROVER_GROUP in names:
            cached = Role.APPROVER
        elif AUDITOR_GROUP in names:
            cached = Role.AUDITOR
        else:
            cached = Role.REQUESTER
        user._portal_role = cached
    return cached


def is_approver(user) -> bool:
    return role_of(user) == Role.APPROVER


def is_auditor(user) -> bool:
    return role_of(user) == Role.AUDITOR


def sees_all_tenants(user) -> bool:
    return role_of(user) in (Role.APPROVER, Role.AUDITOR)


def role_from_claims(groups: list[str] | None) -> Role:
    """The role the identity provider's group names give; approver wins over auditor."""
    names = set(groups or [])
    if names & set(settings.PORTAL_APPROVER_GROUPS):
        return Role.APPROVER
    if names & set(settings.PORTAL_AUDITOR_GROUPS):
        return Role.AUDITOR
    return Role.REQUESTER


def user_set_role(*, user, role: Role) -> None:
    """Give the user exactly this role: staff flag and the one group that grants it."""
    approvers, _ = Group.objects.get_or_create(name=APPROVER_GROUP)
    auditors, _ = Group.objects.get_or_create(name=AUDITOR_GROUP)
    user.groups.remove(approvers, auditors)
    if role == Role.APPROVER:
        user.groups.add(approvers)
    elif role == Role.AUDITOR:
        user.groups.add(auditors)
    user.is_staff = user.is_superuser or role in (Role.APPROVER, Role.AUDITOR)
    user.save(update_fields=["is_staff"])
    user.__dict__.pop("_portal_role", None)  # role_of() works it out afresh
