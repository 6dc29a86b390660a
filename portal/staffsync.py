"""Keep the staff flag equal to the role, however a user's groups change."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed
from django.dispatch import receiver

from portal import roles

User = get_user_model()


def staff_sync(user_ids) -> None:
    """Staff exactly when superuser, platform admin or auditor: the admin is theirs to read."""
    staff_groups = [roles.APPROVER_GROUP, roles.AUDITOR_GROUP]
    users = User.objects.filter(pk__in=list(user_ids))
    has_role = users.filter(groups__name__in=staff_groups).values_list("pk", flat=True)
    # Updates, not save(): no second round of signals, no other field touched.
    users.filter(pk__in=has_role, is_staff=False).update(is_staff=True)
    users.exclude(pk__in=has_role).filter(is_superuser=False, is_staff=True).update(is_staff=False)


@receiver(m2m_changed, sender=User.groups.through)
def _groups_changed(sender, instance, action, reverse, pk_set, **kwargs):
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if not reverse:
        user_ids = [instance.pk]
    elif action == "post_clear":
        # The group's members are gone from it already; sync them all, it is rare.
        user_ids = User.objects.values_list("pk", flat=True)
    else:
        user_ids = pk_set or []
    if (
        reverse
        and isinstance(instance, Group)
        and instance.name
        not in (
            roles.APPROVER_GROUP,
            roles.AUDITOR_GROUP,
        )
    ):
        return
    staff_sync(user_ids)
    if not reverse:
        instance.__dict__.pop("_portal_role", None)
        instance.is_staff = (
            User.objects.filter(pk=instance.pk).values_list("is_staff", flat=True).first()
        )
