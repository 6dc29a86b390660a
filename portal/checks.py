"""System checks of the shared cache: a Redis URL, apart from the broker, set in production."""

from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.checks import Error, Warning, register

REDIS_SCHEMES = ("redis", "rediss", "unix")


def redis_database(url: str) -> tuple[str, int | None, str] | None:
    """(host or socket path, port, database) of a Redis URL; None for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in REDIS_SCHEMES:
        return None
    query = parse_qs(parts.query)
    if parts.scheme == "unix":
        return (parts.path, None, (query.get("db") or ["0"])[0])
    database = parts.path.strip("/") or (query.get("db") or ["0"])[0]
    return (parts.hostname or "localhost", parts.port or 6379, database)


@register()
def cache_url(app_configs=None, **kwargs) -> list[Error]:
    url = settings.PORTAL_CACHE_URL
    if not url:
        return []
    cache = redis_database(url)
    if cache is None:
        return [
            Error(
                f"PORTAL_CACHE_URL must be a Redis URL (redis://, rediss:// or unix://), "
                f"not {urlsplit(url).scheme or 'a bare'!s}:// ...",
                hint="e.g. redis://:password@redis.portal-redis.svc:6379/1, or unset it for "
                "the table in the portal database.",
                id="portal.E001",
            )
        ]
    # Clearing the cache (cache.clear() is Redis FLUSHDB) would drop the queued provisioning runs.
    if cache == redis_database(settings.CELERY_BROKER_URL):
        return [
            Error(
                "PORTAL_CACHE_URL and CELERY_BROKER_URL name the same Redis database "
                f"({cache[0]}, database {cache[2]}): clearing the cache would drop queued runs.",
                hint="Give the cache its own database number, e.g. /1 with the broker on /0.",
                id="portal.E002",
            )
        ]
    return []


@register(deploy=True)
def cache_in_production(app_configs=None, **kwargs) -> list[Warning]:
    if settings.PORTAL_CACHE_URL:
        return []
    return [
        Warning(
            "PORTAL_CACHE_URL is unset: rate limits and sign-in lock-outs count in a table of "
            "the portal database, one write per attempt on the database every page needs.",
            hint="Set PORTAL_CACHE_URL to the platform's Redis (a database apart from the "
            "broker's), as the staging and production overlays' secret does.",
            id="portal.W001",
        )
    ]
