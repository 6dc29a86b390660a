"""Free text a user typed, refused in words where PostgreSQL could not store it."""

from django.core.exceptions import ValidationError


def refuse_nul(field: str, text: str, what: str) -> None:
    """A NUL byte is never meant, and PostgreSQL refuses it in any text (a 500 otherwise)."""
    if "\x00" in text:
        raise ValidationError({field: [f"{what} can't contain a NUL character; remove it."]})
