"""The provisioning steps, one outside resource each; their order is settings.PORTAL_STEPS."""

from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string


@cache
def _load(paths: tuple[str, ...]) -> list[type]:
    return [import_string(path) for path in paths]


def step_classes() -> list[type]:
    return _load(tuple(settings.PORTAL_STEPS))
