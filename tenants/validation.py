"""The rules a tenant request must meet, each failing with the sentence the user sees."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
SLUG_MIN, SLUG_MAX = 3, 30
# The length rule in words; show_value is what Django's max_length check calls the length, so a
# form field capped longer than the rule says the rule too, not its own cap.
SLUG_LENGTH = f"Use {SLUG_MIN} to {SLUG_MAX} characters (this one has %(show_value)d)."


def normalize_slug(value: str) -> str:
    return (value or "").strip().lower()


def validate_slug(slug: str) -> None:
    if not SLUG_MIN <= len(slug) <= SLUG_MAX:
        raise ValidationError(SLUG_LENGTH % {"show_value": len(slug)}, code="length")
    if not _DNS_LABEL.match(slug):
        raise ValidationError(
            "Use only lower-case letters, digits and hyphens, starting and ending with a letter "
            "or digit (it becomes a DNS name).",
            code="format",
        )
    if slug.startswith("kube-") or slug in settings.PORTAL_RESERVED_SLUGS:
        raise ValidationError(
            f"“{slug}” is reserved for the platform; pick another.", code="reserved"
        )


def normalize_host(value: str) -> str:
    return (value or "").strip().lower().rstrip(".")


def validate_host(host: str) -> None:
    labels = host.split(".")
    valid = (
        0 < len(host) <= 253
        and len(labels) >= 2
        and all(0 < len(label) <= 63 and _DNS_LABEL.match(label) for label in labels)
        and not labels[-1].isdigit()
    )
    if not valid:
        raise ValidationError(
            "Enter a host name such as blog.example.com: letters, digits and hyphens in parts "
            "separated by dots.",
            code="host",
        )


def default_host(slug: str) -> str:
    return settings.PORTAL_TENANT_HOST_PATTERN.format(slug=slug)


def validate_wordpress_version(version: str) -> None:
    if version not in settings.PORTAL_WORDPRESS_VERSIONS:
        offered = ", ".join(settings.PORTAL_WORDPRESS_VERSIONS)
        raise ValidationError(f"Choose one of the offered versions: {offered}.", code="version")
