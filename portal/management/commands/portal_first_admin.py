"""Create the first administrator with a random password, once, and say how to sign in."""

import secrets

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError
from django.core.validators import validate_email

from portal.commands import PortalCommand
from portal.roles import Role, user_set_role

# As typed in the project's folder, where run.sh put the virtualenv.
CHANGEPASSWORD = ".venv/bin/python manage.py changepassword"


class Command(PortalCommand):
    help = "Create the first platform administrator if there is none yet."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--email", default="admin@localhost")
        parser.add_argument(
            "--url", default="", help="The portal's address, to print where to sign in."
        )

    def handle(self, *args, username: str, email: str, url: str, **options):
        users = get_user_model().objects
        existing = users.filter(is_superuser=True).order_by("pk").first()
        if existing is not None:
            self.stdout.write(
                f"Administrator “{existing.get_username()}” exists already. Forgot the "
                f"password? {CHANGEPASSWORD} {existing.get_username()}"
            )
            return
        username, email = self._checked(users, username, email)
        password = secrets.token_urlsafe(18)
        user = users.create_superuser(username=username, email=email, password=password)
        user_set_role(user=user, role=Role.APPROVER)
        self.stdout.write(
            self.style.SUCCESS("Created the first administrator.")
            + (f"\n  Sign in at {url.rstrip('/')}/accounts/login/" if url else "")
            + f"\n  user name: {username}\n  password:  {password}"
            f"\n  (shown only this once; change it with: {CHANGEPASSWORD} {username})"
        )

    def _checked(self, users, username: str, email: str) -> tuple[str, str]:
        """The name and address as the Django admin's forms would take them, else a sentence
        (create_superuser itself checks neither, and a taken name was an IntegrityError)."""
        field = users.model._meta.get_field(users.model.USERNAME_FIELD)
        try:
            username = field.clean(username.strip(), None)
        except ValidationError as exc:
            raise CommandError(f"--username “{username}”: {' '.join(exc.messages)}") from exc
        try:
            validate_email(email.strip())
        except ValidationError as exc:
            raise CommandError(f"--email “{email}”: {' '.join(exc.messages)}") from exc
        if users.filter(**{field.name: username}).exists():
            raise CommandError(
                f"A user “{username}” exists already but is no administrator; nothing created. "
                "Choose another name with --username, or make that user a superuser in the "
                "Django admin."
            )
        return username, email.strip()
