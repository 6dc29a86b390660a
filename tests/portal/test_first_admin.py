"""portal_first_admin refuses what the Django admin would refuse, in a sentence."""

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from tests.factories import UserFactory


def _run(*args) -> str:
    out = StringIO()
    call_command("portal_first_admin", *args, stdout=out)
    return out.getvalue()


def test_a_plain_user_with_the_name_is_named_and_left_alone(db):
    UserFactory(username="admin")  # not a superuser: run.sh's default name is taken
    with pytest.raises(CommandError, match="A user “admin” exists already but is no administrator"):
        _run()
    assert not get_user_model().objects.filter(is_superuser=True).exists()


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        (["--username", ""], "--username “”: This field cannot be blank."),
        (["--username", "a/b"], "--username “a/b”: Enter a valid username."),
        (["--email", "notanemail"], "--email “notanemail”: Enter a valid email address."),
    ],
)
def test_a_name_or_address_the_admin_would_refuse_is_refused(db, args, refusal):
    with pytest.raises(CommandError) as refused:
        _run(*args)
    assert str(refused.value).startswith(refusal)
    assert not get_user_model().objects.exists()


def test_a_good_name_is_made_the_administrator(db):
    out = _run("--username", " ops ", "--email", "ops@example.com")
    assert "user name: ops\n" in out
    assert get_user_model().objects.get(is_superuser=True).username == "ops"
