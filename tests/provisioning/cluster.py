"""The real or stand-in outside systems of the cluster tests, and how to look into them."""

import base64

import boto3
import pymysql

from provisioning.drivers.mariadb import MariaDBTarget
from provisioning.secrets import SECRET_NAME
from tests import services as svc
from tests.workers import wait_until

S3_ADMIN = {"aws_access_key_id": "admin-key", "aws_secret_access_key": "admin-secret"}


def wait_cluster_state(tenant, states, platform, kube_api, timeout=120):
    def reached():
        kube_api.mark_ready()  # the cluster's controllers roll out what was applied
        tenant.refresh_from_db()
        return tenant.state in states

    wait_until(reached, timeout, f"tenant in {states}", platform.logs)


def tenant_secret(kube_api, tenant) -> dict[str, str]:
    data = kube_api.get("Secret", SECRET_NAME, tenant.namespace)["data"]
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def db_login(tenant, password: str, url: str = svc.MARIADB_URL):
    target = MariaDBTarget.from_url(url)
    db = "wp_" + tenant.slug.replace("-", "_")
    return pymysql.connect(
        host=target.host, port=target.port, user=db, password=password, database=db
    )


def iam_keys(platform, slug: str) -> list[str]:
    iam = boto3.client(
        "iam", endpoint_url=platform.env["PORTAL_S3_ENDPOINT_URL"], region_name="us-east-1",
        **S3_ADMIN,
    )  # fmt: skip
    keys = iam.list_access_keys(UserName=f"wp-tenant-{slug}")["AccessKeyMetadata"]
    return [key["AccessKeyId"] for key in keys]


def providers(authentik_api, slug: str) -> list[dict]:
    return [p for p in authentik_api.providers.values() if p["name"] == f"wp-{slug}"]
