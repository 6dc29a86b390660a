"""IONOS bucket policies name a tenant's user as IONOS documents it, and IONOS S3 means ionos mode.

IONOS's bucket-policy examples: contract-owned buckets take "AWS": ["arn:aws:iam:::user/<contract
user id>"], user-owned ones "CanonicalUser" (docs.ionos.com/cloud/storage-and-backup/ionos-object-
storage/settings/bucket-policy/examples); the contract user id is <contract number>:<user uuid>
(the ionoscloud Terraform provider's s3_bucket_policy example: arn:aws:iam:::user/31000000:9acd...).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from provisioning import s3policy
from tests.provisioning.test_ionos_storage import ionos_user, policy_of
from tests.provisioning.test_storage import s3  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def tenant(s3, ionos_api, settings):  # noqa: F811
    settings.PORTAL_S3_CREDENTIALS = "ionos"
    settings.PORTAL_IONOS_BUCKET_TYPE = "contract"
    return s3


def test_on_a_contract_owned_bucket_the_principal_is_the_contract_user_arn(
    tenant,
    ionos_api,
    moto_url,
    settings,  # noqa: F811
):
    step = tenant()
    assert step.apply().status == "done"
    arn = f"arn:aws:iam:::user/31000000:{ionos_user(ionos_api, step)['id']}"
    bucket = settings.PORTAL_S3_BUCKET
    policy = policy_of(moto_url, bucket)
    mine = [s for s in policy["Statement"] if s["Sid"] in s3policy.statement_ids(step.spec.slug)]
    assert {json.dumps(s["Principal"]) for s in mine} == {json.dumps({"AWS": [arn]})}
    own = f"arn:aws:s3:::{bucket}/{step.spec.s3_prefix}a.jpg"
    assert s3policy.allowed(policy, arn, "s3:PutObject", own)
    assert not s3policy.allowed(policy, arn, "s3:PutObject", f"arn:aws:s3:::{bucket}/tenants/x/a")
    assert step.check() == []
    assert ("GET", "/cloudapi/v6/contracts") in ionos_api.requests


def credentials_default(**env: str) -> str:
    """PORTAL_S3_CREDENTIALS as the settings read it from this environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_S3_")}
    answer = subprocess.run(
        [sys.executable, "-c", "import portal.settings as s; print(s.PORTAL_S3_CREDENTIALS)"],
        env={**clean, **env, "PORTAL_VAR_DIR": os.environ.get("PORTAL_VAR_DIR", "/tmp")},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return answer.stdout.strip()


def test_the_credentials_mode_follows_the_provider():
    ionos = "https://s3.eu-central-3.ionoscloud.com"
    assert credentials_default(PORTAL_S3_ENDPOINT_URL=ionos) == "ionos"
    assert (
        credentials_default(PORTAL_S3_ENDPOINT_URL="https://s3.eu-central-1.amazonaws.com") == "iam"
    )
    assert credentials_default() == "iam"
    assert credentials_default(PORTAL_S3_ENDPOINT_URL=ionos, PORTAL_S3_CREDENTIALS="iam") == "iam"


def test_iam_mode_on_ionos_is_refused(settings):
    settings.PORTAL_S3_ENDPOINT_URL = "https://s3.eu-central-3.ionoscloud.com"
    settings.PORTAL_S3_CREDENTIALS = "iam"
    with pytest.raises(SystemCheckError, match="provisioning.E006.*no IAM API"):
        call_command("check")
    settings.PORTAL_S3_CREDENTIALS = "ionos"
    settings.PORTAL_IONOS_BUCKET_TYPE = "shared"
    with pytest.raises(SystemCheckError, match="provisioning.E007"):
        call_command("check")
