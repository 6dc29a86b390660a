"""The Django groups behind the portal's roles and the admin permissions each carries."""

from django.contrib.auth.models import Group, Permission

from portal.roles import APPROVER_GROUP, AUDITOR_GROUP

_READ = [
    ("tenants", "view_tenant"),
    ("tenants", "view_tenantmember"),
    ("tenants", "view_tenanthost"),
    ("tenants", "view_plan"),
    ("tenants", "view_auditevent"),
    ("provisioning", "view_run"),
    ("provisioning", "view_steprun"),
    ("auth", "view_user"),
    ("api", "view_webhookendpoint"),
    ("api", "view_webhookdelivery"),
]
_APPROVER_EXTRA = [
    ("tenants", "add_plan"),
    ("tenants", "change_plan"),
    ("tenants", "delete_plan"),
    ("api", "add_webhookendpoint"),
    ("api", "change_webhookendpoint"),
    ("api", "delete_webhookendpoint"),
]


def _perms(pairs):
    found = []
    for app_label, codename in pairs:
        perm = Permission.objects.filter(
            content_type__app_label=app_label, codename=codename
        ).first()
        if perm is not None:
            found.append(perm)
    return found


def ensure_role_groups(**kwargs) -> None:
    """Create or correct both groups; runs after every migrate."""
    approvers, _ = Group.objects.get_or_create(name=APPROVER_GROUP)
    approvers.permissions.set(_perms(_READ + _APPROVER_EXTRA))
    auditors, _ = Group.objects.get_or_create(name=AUDITOR_GROUP)
    auditors.permissions.set(_perms(_READ))
