"""Users added, changed, given a password or deleted in the Django admin are audited, no hash."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from tenants.audit import audit_verify
from tenants.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
Action = AuditEvent.Action
PASSWORD = "Corr3ct-horse-battery-staple"


@pytest.fixture
def root(client):
    user = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def change_form(user, **fields) -> dict:
    return {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": user.email,
        "is_active": "on",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "10:00:00",
        "initial-date_joined_0": "2026-01-01",
        "initial-date_joined_1": "10:00:00",
        **fields,
    }


def assert_trail_clean(*secrets: str) -> None:
    """The chain holds, and no password or hash of one is in any audit row."""
    checked, broken = audit_verify()
    assert checked and broken is None
    every = " ".join(str(v) for row in AuditEvent.objects.values_list() for v in row)
    hashes = User.objects.values_list("password", flat=True)
    for secret in [*secrets, *hashes]:
        assert secret not in every
    assert "pbkdf2_" not in every and "argon2" not in every


def test_the_flags_changed_on_the_users_page_are_audited(client, root):
    frank = UserFactory(username="frank")
    form = change_form(frank, is_active="", is_superuser="on")
    page = client.post(reverse("admin:auth_user_change", args=[frank.pk]), form)

    assert page.status_code == 302, page.content.decode()[:2000]
    event = AuditEvent.objects.get(action=Action.USER_CHANGED)
    assert (event.actor_name, event.object_id) == ("root", str(frank.pk))
    assert event.before == {"is_active": True, "is_staff": False, "is_superuser": False}
    # A superuser is staff (portal.roles); inactive, as asked.
    after = User.objects.filter(pk=frank.pk).values("is_active", "is_staff", "is_superuser").get()
    assert event.after == after and after["is_superuser"] and not after["is_active"]
    assert_trail_clean()


def test_saving_a_user_unchanged_records_no_change(client, root):
    frank = UserFactory(username="frank")
    page = client.post(reverse("admin:auth_user_change", args=[frank.pk]), change_form(frank))
    assert page.status_code == 302
    assert not AuditEvent.objects.filter(action=Action.USER_CHANGED).exists()


def test_a_user_added_in_the_admin_is_audited_without_the_password(client, root):
    form = {
        "username": "grace",
        "usable_password": "true",
        "password1": PASSWORD,
        "password2": PASSWORD,
    }
    page = client.post(reverse("admin:auth_user_add"), form)

    assert page.status_code == 302, page.content.decode()[:2000]
    grace = User.objects.get(username="grace")
    event = AuditEvent.objects.get(action=Action.USER_CREATED)
    assert (event.actor_name, event.object_id) == ("root", str(grace.pk))
    assert event.after["username"] == "grace" and event.after["role"] == "requester"
    assert "password" not in str(event.after)
    assert_trail_clean(PASSWORD)


def test_a_password_set_in_the_admin_is_audited_as_changed_with_no_value(client, root):
    frank = UserFactory(username="frank")
    old_hash = frank.password
    form = {"usable_password": "true", "password1": PASSWORD, "password2": PASSWORD}
    page = client.post(reverse("admin:auth_user_password_change", args=[frank.pk]), form)

    assert page.status_code == 302, page.content.decode()[:2000]
    frank.refresh_from_db()
    assert frank.check_password(PASSWORD)
    event = AuditEvent.objects.get(action=Action.USER_CHANGED)
    assert (event.actor_name, event.object_id) == ("root", str(frank.pk))
    assert event.after == {"password": "changed"} and event.before is None
    assert_trail_clean(PASSWORD, old_hash)


def test_a_refused_password_records_nothing(client, root):
    frank = UserFactory(username="frank")
    form = {"usable_password": "true", "password1": PASSWORD, "password2": "other"}
    page = client.post(reverse("admin:auth_user_password_change", args=[frank.pk]), form)
    assert page.status_code == 200
    assert not AuditEvent.objects.filter(action=Action.USER_CHANGED).exists()


def test_deleting_users_on_their_page_and_from_the_list_is_audited(client, root):
    frank, grace, heidi = (UserFactory(username=n) for n in ("frank", "grace", "heidi"))
    hashes = [u.password for u in (frank, grace, heidi)]
    page = client.post(reverse("admin:auth_user_delete", args=[frank.pk]), {"post": "yes"})
    assert page.status_code == 302
    bulk = {"action": "delete_selected", "_selected_action": [grace.pk, heidi.pk], "post": "yes"}
    assert client.post(reverse("admin:auth_user_changelist"), bulk).status_code == 302

    assert not User.objects.filter(username__in=["frank", "grace", "heidi"]).exists()
    deleted = AuditEvent.objects.filter(action=Action.USER_DELETED).order_by("object_repr")
    assert [(e.object_repr, e.actor_name) for e in deleted] == [
        ("frank", "root"),
        ("grace", "root"),
        ("heidi", "root"),
    ]
    assert deleted[0].before == {
        "username": "frank",
        "role": "requester",
        "is_active": True,
        "is_staff": False,
        "is_superuser": False,
    }
    assert_trail_clean(*hashes)
