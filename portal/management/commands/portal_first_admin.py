"""Create the first administrator with a random password, once, and say how to sign in."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from portal.roles import Role, user_set_role


class Command(BaseCommand):
    help = "Create the first platform administrator if there is none yet."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@localhost")

    def handle(self, *args, username: str, email: str, **options):
        users = get_user_model().objects
        existing = users.filter(is_superuser=True).order_by("pk").first()
        if existing is not None:
            self.stdout.write(
                f"Administrator “{existing.get_username()}” exists already. Forgot the "
                f"password? python manage.py changepassword {existing.get_username()}"
            )
            return
        password = secrets.token_urlsafe(18)
        user = users.create_superuser(username=username, email=email, password=password)
        user_set_role(user=user, role=Role.APPROVER)
        self.stdout.write(
            self.style.SUCCESS("Created the first administrator.")
            + f"\n  Sign in at http://127.0.0.1:<port>/accounts/login/"
            f"\n  user name: {username}\n  password:  {password}"
            "\n  (shown only this once; change it with: python manage.py changepassword "
            f"{username})"
        )
