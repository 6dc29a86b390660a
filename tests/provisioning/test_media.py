"""Tenant media displays: URLs on the platform's delivery host, uploads without ACLs."""

import pytest

from provisioning.manifests.wordpress import INSTALL_SCRIPT, deployment
from provisioning.spec import spec_for
from tests.factories import TenantFactory
from tests.provisioning.wpconfig import pod_env, serialized

pytestmark = pytest.mark.django_db

IONOS = "https://s3.eu-central-3.ionoscloud.com"


def offload_settings() -> dict[str, object]:
    spec = spec_for(TenantFactory(slug="shop"))
    env = pod_env(deployment(spec)["spec"]["template"]["spec"]["containers"][0])
    return serialized(env["WORDPRESS_CONFIG_EXTRA"], "AS3CF_SETTINGS", env)


def attachment_url(offload: dict[str, object], path: str) -> str:
    """The URL WP Offload Media writes for an offloaded file with a delivery domain
    (Item::get_provider_url: scheme, the sanitized delivery domain, the object key)."""
    assert offload["serve-from-s3"] and offload["enable-delivery-domain"]
    assert offload["delivery-provider"] != "storage"  # 'storage' ignores the delivery domain
    scheme = "https" if offload["force-https"] else "http"
    return f"{scheme}://{offload['delivery-domain']}/{offload['object-prefix']}{path}"


def test_the_attachment_url_for_an_ionos_endpoint_is_the_buckets_ionos_host(settings):
    settings.PORTAL_S3_ENDPOINT_URL = IONOS
    settings.PORTAL_S3_REGION = "eu-central-3"
    settings.PORTAL_S3_BUCKET = "wordpress-media"
    offload = offload_settings()
    assert attachment_url(offload, "2026/12/photo.jpg") == (
        "https://wordpress-media.s3.eu-central-3.ionoscloud.com/tenants/shop/2026/12/photo.jpg"
    )
    assert "amazonaws.com" not in str(offload)


def test_a_configured_cdn_serves_the_media(settings):
    settings.PORTAL_S3_ENDPOINT_URL = IONOS
    settings.PORTAL_S3_DELIVERY_DOMAIN = "media.example.com"
    offload = offload_settings()
    assert attachment_url(offload, "a.png") == "https://media.example.com/tenants/shop/a.png"


def test_a_plain_http_lab_endpoint_gives_http_urls(settings):
    settings.PORTAL_S3_ENDPOINT_URL = "http://s3.lab.example"
    offload = offload_settings()
    assert (
        attachment_url(offload, "a.png")
        == "http://wordpress-media.s3.lab.example/tenants/shop/a.png"
    )


# The keys WP Offload Media 3.x reads from AS3CF_SETTINGS that the portal sets (its settings
# whitelist and Amazon_S3_And_CloudFront::get_setting callers, github.com/deliciousbrains/
# wp-amazon-s3-and-cloudfront classes/amazon-s3-and-cloudfront.php; get_url_domain reads the
# delivery ones). 'object-ownership-enforced' is no such key: the plugin reads the bucket's state
# for it and derives use-bucket-acls from it only when use-bucket-acls is unset.
PLUGIN_KEYS = {
    "provider", "access-key-id", "secret-access-key", "bucket", "region", "copy-to-s3",
    "serve-from-s3", "remove-local-file", "enable-object-prefix", "object-prefix",
    "delivery-provider", "enable-delivery-domain", "delivery-domain", "force-https",
    "use-bucket-acls",
}  # fmt: skip


def test_every_setting_is_one_the_plugin_reads():
    assert set(offload_settings()) <= PLUGIN_KEYS


def test_uploads_carry_no_acl():
    offload = offload_settings()
    # The plugin's own switch: Upload_Handler sets ACL only if use_acl_for_intermediate_size,
    # which is get_setting('use-bucket-acls') for the configured bucket ...
    assert offload["use-bucket-acls"] is False
    # ... and the mu-plugin empties the default canned ACL (Storage_Provider::get_default_acl's
    # filter; the upload handler sets ACL only when it is not empty).
    assert "add_filter('as3cf_aws_s3_default_acl', '__return_null');" in INSTALL_SCRIPT
