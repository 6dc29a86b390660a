"""The auditor role alone opens the Django admin, read-only; losing the role closes it."""

from django.contrib.auth.models import Group
from django.urls import reverse

from portal.roles import APPROVER_GROUP, AUDITOR_GROUP
from tenants.models import AuditEvent
from tests.factories import UserFactory


def test_putting_someone_in_the_auditors_group_opens_the_admin_and_removing_closes_it(client, db):
    dana = UserFactory(username="dana")
    auditors = Group.objects.get(name=AUDITOR_GROUP)
    client.force_login(dana)
    assert client.get(reverse("admin:index")).status_code == 302  # to the admin's login

    dana.groups.add(auditors)
    dana.refresh_from_db()
    assert dana.is_staff
    assert client.get(reverse("admin:tenants_auditevent_changelist")).status_code == 200
    # Read-only: the audit can be read, users can't be changed.
    assert client.get(reverse("admin:auth_user_add")).status_code == 403

    auditors.user_set.remove(dana)  # from the group's side, as the group page does
    dana.refresh_from_db()
    assert not dana.is_staff
    assert client.get(reverse("admin:index")).status_code == 302


def test_a_role_given_in_the_admin_is_audited_with_who_gave_it(client, db):
    superuser = UserFactory(username="root", is_staff=True, is_superuser=True)
    erin = UserFactory(username="erin")
    client.force_login(superuser)
    url = reverse("admin:auth_user_change", args=[erin.pk])
    form = {
        "username": "erin",
        "first_name": "",
        "last_name": "",
        "email": "erin@example.com",
        "is_active": "on",
        "groups": [Group.objects.get(name=APPROVER_GROUP).pk],
        "date_joined_0": "2026-01-01",
        "date_joined_1": "10:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "10:00:00",
    }
    response = client.post(url, form)

    assert response.status_code == 302, response.content.decode()[:2000]
    erin.refresh_from_db()
    assert erin.is_staff
    event = AuditEvent.objects.get(action=AuditEvent.Action.USER_ROLE_CHANGED)
    assert event.actor_name == superuser.get_username()
    assert event.before == {"role": "requester"} and event.after == {"role": "approver"}
