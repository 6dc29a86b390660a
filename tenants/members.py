"""Who besides the owner may sign in to a tenant's WordPress: add and remove, audited."""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import IntegrityError, transaction

from portal.auth.claims import authentik_username
from portal.errors import ApplicationError
from tenants import sitechange
from tenants.audit import audit_record
from tenants.models import AuditEvent, Tenant, TenantMember

Action = AuditEvent.Action
MAX_MEMBERS = 50
# Authentik's user names are Django's: letters, digits and @ . + - _ (at most 150).
_USERNAME = RegexValidator(
    r"^[\w.@+-]{1,150}\Z",
    "Give the person's Authentik user name: letters, digits and @ . + - _ only, at most 150.",
)


def _check_may_manage(tenant: Tenant, actor) -> None:
    sitechange.check_may_change(tenant, actor, "who signs in to the site")


def _apply(tenant: Tenant, actor) -> None:
    # The sso step puts the change into the tenant's Authentik group.
    sitechange.apply_change(tenant, actor, "members")


def member_add(*, tenant: Tenant, actor, username: str) -> TenantMember:
    _check_may_manage(tenant, actor)
    username = (username or "").strip()
    try:
        _USERNAME(username)
    except ValidationError as exc:
        raise ValidationError({"username": exc.messages}) from None
    owner = {tenant.owner.get_username().lower(), authentik_username(tenant.owner).lower()}
    if username.lower() in owner:
        raise ValidationError({"username": ["The owner signs in already; no need to add them."]})
    if tenant.members.count() >= MAX_MEMBERS:
        raise ValidationError({"username": [f"A site has at most {MAX_MEMBERS} members."]})
    try:
        with transaction.atomic():
            member = TenantMember.objects.create(tenant=tenant, username=username, added_by=actor)
            audit_record(
                action=Action.TENANT_MEMBER_ADDED,
                actor=actor,
                obj=tenant,
                after={"member": username},
                message=f"{username} may sign in to {tenant.slug}",
            )
            _apply(tenant, actor)
    except IntegrityError:
        raise ValidationError({"username": [f"{username} is already a member."]}) from None
    return member


def member_remove(*, tenant: Tenant, actor, member_id: int) -> None:
    _check_may_manage(tenant, actor)
    with transaction.atomic():
        member = (
            TenantMember.objects.select_for_update().filter(tenant=tenant, pk=member_id).first()
        )
        if member is None:
            raise ApplicationError("That person is no longer a member; reload the page.")
        member.delete()
        audit_record(
            action=Action.TENANT_MEMBER_REMOVED,
            actor=actor,
            obj=tenant,
            before={"member": member.username},
            message=f"{member.username} may no longer sign in to {tenant.slug}",
        )
        _apply(tenant, actor)
