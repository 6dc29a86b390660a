"""Where a tenant's media is served from: the delivery host WP Offload Media writes in URLs."""

from urllib.parse import urlsplit

from django.conf import settings

from provisioning.spec import TenantSpec


def delivery_domain(spec: TenantSpec) -> str:
    """The host browsers fetch the tenant's media from.

    A configured CDN or custom domain, else the bucket's own virtual host at the platform's S3
    endpoint (IONOS: <bucket>.s3.<region>.ionoscloud.com), else AWS's regional bucket host.
    The plugin keeps only a host name here (letters, digits, dots and dashes).
    """
    if settings.PORTAL_S3_DELIVERY_DOMAIN:
        return settings.PORTAL_S3_DELIVERY_DOMAIN
    endpoint = urlsplit(settings.PORTAL_S3_ENDPOINT_URL).hostname
    if endpoint:
        return f"{spec.s3_bucket}.{endpoint}"
    return f"{spec.s3_bucket}.s3.{settings.PORTAL_S3_REGION}.amazonaws.com"


def delivery_https() -> bool:
    """Media URLs use https unless the platform's own endpoint is plain http (a lab S3)."""
    if settings.PORTAL_S3_DELIVERY_DOMAIN:
        return True
    return urlsplit(settings.PORTAL_S3_ENDPOINT_URL).scheme != "http"
