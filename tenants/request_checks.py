"""Every problem of a tenant request at once, so a form reports them all in one round."""

from django.conf import settings
from django.core.exceptions import ValidationError

from tenants import validation
from tenants.customhosts import served_elsewhere
from tenants.models import Tenant


def request_problems(
    *, owner, slug: str | None, host: str | None, plan=None, wordpress_version=None, exclude_pk=None
) -> dict[str, list[str]]:
    """Field -> the sentences the user reads. `slug` and `host` come normalized; a value of
    None was already refused by the form's own field and is not judged again."""
    errors: dict[str, list[str]] = {}

    def check(field: str, fn, value) -> None:
        try:
            fn(value)
        except ValidationError as exc:
            errors.setdefault(field, []).extend(exc.messages)

    if slug is not None:
        check("slug", validation.validate_slug, slug)
    if host is not None:
        check("host", validation.validate_host, host)
    if wordpress_version is not None:
        check("wordpress_version", validation.validate_wordpress_version, wordpress_version)
    if plan is not None and not plan.is_active:
        errors.setdefault("plan", []).append("This plan is no longer offered; choose another.")
    live = Tenant.objects.filter(state__in=Tenant.LIVE_STATES).exclude(pk=exclude_pk)
    if slug is not None and "slug" not in errors and live.filter(slug__iexact=slug).exists():
        errors.setdefault("slug", []).append(
            f"“{slug}” is already taken (or still being deleted); pick another."
        )
    if host is not None and "host" not in errors and served_elsewhere(host, tenant_id=exclude_pk):
        errors.setdefault("host", []).append(f"{host} is already in use by another tenant.")
    if "slug" in errors and host == validation.default_host(slug or ""):
        # The host was made from the bad (or taken) name: the name's message says it all.
        errors.pop("host", None)
    most = settings.PORTAL_MAX_TENANTS_PER_USER
    if owner is not None and live.filter(owner=owner).count() >= most:
        errors.setdefault("__all__", []).append(
            f"You already have {most} open requests or tenants, "
            "the most one person may have. Delete one or ask a platform admin."
        )
    return errors


def check_request(**kwargs) -> None:
    """request_problems, raised as one ValidationError when there are any."""
    errors = request_problems(**kwargs)
    if errors:
        raise ValidationError(errors)
