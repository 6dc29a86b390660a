"""The platform's S3 object storage and its IAM, spoken to with boto3 as the admin account."""

import json
from collections.abc import Iterator
from contextlib import contextmanager

import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, NoCredentialsError
from botocore.exceptions import ConnectionError as BotoConnectionError
from django.conf import settings
from django.db import connection

from provisioning import s3policy
from provisioning.errors import StepFailed, TransientError

_PASSING_CODES = {
    "Throttling",
    "ThrottlingException",
    "SlowDown",
    "RequestTimeout",
    "RequestLimitExceeded",
    "ServiceUnavailable",
    "InternalError",
    "OperationAborted",
}
_MISSING = {"NoSuchEntity", "NoSuchBucket", "NoSuchBucketPolicy", "404", "NoSuchKey"}
BATCH = 1000  # the most keys one DeleteObjects call takes
# Every store reads the same API models: one loader parses them once per process, where a fresh
# session spends ~0.1 s of CPU on them for each step of each tenant (hundreds per drift pass).
_LOADER = botocore.loaders.create_loader()
# The tag that marks an IAM user as the portal's for one tenant (its value: the slug).
TENANT_TAG = "portal.wp.ionos/tenant"
# Any constant works: it names the advisory lock that orders edits of the shared bucket policy.
_POLICY_LOCK_KEY = 740_221_007


@contextmanager
def translated(what: str) -> Iterator[None]:
    """boto3's errors as the engine's two kinds, with words a human can act on."""
    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        text = f"{code}: {error.get('Message', '')}".rstrip(": ")
        if code in _PASSING_CODES or status == 429 or status >= 500:
            raise TransientError(f"S3 could not {what} just now ({text}).") from exc
        if code in {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch"}:
            raise StepFailed(
                f"S3 refused to let the portal {what} ({text}); check PORTAL_S3_ACCESS_KEY_ID/"
                "PORTAL_S3_SECRET_ACCESS_KEY and the admin account's rights."
            ) from exc
        if code == "NoSuchBucket":
            raise StepFailed(
                f"S3 has no bucket to {what} ({text}); check PORTAL_S3_BUCKET."
            ) from exc
        raise StepFailed(f"S3 refused to {what} ({text}).") from exc
    except NoCredentialsError as exc:
        raise StepFailed("S3 admin credentials are missing (PORTAL_S3_ACCESS_KEY_ID).") from exc
    except (BotoConnectionError, HTTPClientError) as exc:
        raise TransientError(f"S3 could not be reached to {what}: {exc}") from exc
    except BotoCoreError as exc:
        raise StepFailed(f"S3 client error while trying to {what}: {exc}") from exc


def is_missing(exc: ClientError) -> bool:
    return str(exc.response.get("Error", {}).get("Code", "")) in _MISSING


class ObjectStore:
    """The platform bucket, the tenants' IAM users with their keys and policies, and the bucket
    policy."""

    def __init__(
        self,
        *,
        endpoint_url: str,
        region: str,
        access_key_id: str,
        secret_access_key: str,
        bucket: str,
        iam_endpoint_url: str = "",
        addressing_style: str = "path",
        timeout: int = 10,
        encryption: str = "AES256",
        public_read: bool = True,
    ):
        config = Config(
            connect_timeout=timeout,
            read_timeout=timeout * 3,
            retries={"max_attempts": 2, "mode": "standard"},  # the engine does the backing off
            s3={"addressing_style": addressing_style},
        )
        # botocore's own session: boto3's would add a search path to the shared loader each time.
        session = botocore.session.get_session()
        session.register_component("data_loader", _LOADER)
        account = {
            "aws_access_key_id": access_key_id,
            "aws_secret_access_key": secret_access_key,
            "region_name": region,
            "config": config,
        }
        self.region = region
        self.bucket = bucket
        self.encryption = encryption
        self.public_read = public_read
        self.endpoint_url = endpoint_url
        self.s3 = session.create_client("s3", endpoint_url=endpoint_url, **account)
        self.iam = session.create_client(
            "iam", endpoint_url=iam_endpoint_url or endpoint_url, **account
        )

    @classmethod
    def from_settings(cls) -> "ObjectStore | None":
        if not settings.PORTAL_S3_ENDPOINT_URL:
            if settings.PORTAL_IONOS_TOKEN:
                raise StepFailed(
                    "S3 counts as configured (PORTAL_IONOS_TOKEN is set) but "
                    "PORTAL_S3_ENDPOINT_URL and the admin keys are not: set them, e.g. "
                    "https://s3.eu-central-2.ionoscloud.com."
                )
            return None
        return cls(
            endpoint_url=settings.PORTAL_S3_ENDPOINT_URL,
            iam_endpoint_url=settings.PORTAL_S3_IAM_ENDPOINT_URL,
            region=settings.PORTAL_S3_REGION,
            access_key_id=settings.PORTAL_S3_ACCESS_KEY_ID,
            secret_access_key=settings.PORTAL_S3_SECRET_ACCESS_KEY,
            bucket=settings.PORTAL_S3_BUCKET,
            addressing_style=settings.PORTAL_S3_ADDRESSING_STYLE,
            timeout=settings.PORTAL_S3_TIMEOUT,
            encryption=settings.PORTAL_S3_ENCRYPTION,
            public_read=settings.PORTAL_S3_PUBLIC_READ,
        )

    # --- the bucket -----------------------------------------------------------------------------

    def bucket_differences(self) -> list[str]:
        differences = self._settings_differences()
        if any("missing" in d for d in differences):
            return differences
        return differences + self._public_read_differences()

    def _settings_differences(self) -> list[str]:
        with translated(f"read bucket {self.bucket}"):
            try:
                self.s3.head_bucket(Bucket=self.bucket)
            except ClientError as exc:
                if is_missing(exc):
                    return [f"bucket {self.bucket} is missing"]
                raise
            differences = []
            versioning = self.s3.get_bucket_versioning(Bucket=self.bucket).get("Status")
            if versioning != "Enabled":
                differences.append(f"bucket {self.bucket} is not versioned")
            try:
                self.s3.get_bucket_encryption(Bucket=self.bucket)
            except ClientError as exc:
                if "ServerSideEncryptionConfigurationNotFound" not in str(exc):
                    raise
                differences.append(f"bucket {self.bucket} has no default encryption")
        return differences

    def _public_read_wanted(self) -> list[dict]:
        return [s3policy.public_read_statement(self.bucket)] if self.public_read else []

    def _public_read_present(self, policy: dict) -> list[dict]:
        sid = s3policy.PUBLIC_READ_SID
        return [s for s in s3policy.statements(policy) if s.get("Sid") == sid]

    def _public_read_differences(self) -> list[str]:
        present = self._public_read_present(self.policy())
        if s3policy.same_statements(present, self._public_read_wanted()):
            return []
        if self.public_read:
            return [f"bucket {self.bucket}'s policy doesn't let browsers read tenants/"]
        return [f"bucket {self.bucket}'s policy lets anyone read tenants/ (PORTAL_S3_PUBLIC_READ)"]

    def _public_read_ensure(self) -> None:
        with self.policy_lock():
            policy = self.policy()
            sid = s3policy.PUBLIC_READ_SID
            others = [s for s in s3policy.statements(policy) if s.get("Sid") != sid]
            self.policy_put({**policy, "Statement": [*others, *self._public_read_wanted()]})

    def bucket_ensure(self) -> list[str]:
        """Create the bucket if missing, turn on versioning and encryption, and grant (or
        withdraw) public read of tenants/ in its policy; what changed."""
        settings_differ = self._settings_differences()
        missing = any("missing" in d for d in settings_differ)
        public = [] if missing else self._public_read_differences()
        with translated(f"set up bucket {self.bucket}"):
            if missing:
                where = {}
                if self.region != "us-east-1":
                    where = {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
                try:
                    self.s3.create_bucket(Bucket=self.bucket, **where)
                except ClientError as exc:
                    if "BucketAlreadyOwnedByYou" not in str(exc):  # another worker was quicker
                        raise
            if settings_differ:
                self.s3.put_bucket_versioning(
                    Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"}
                )
                rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": self.encryption}}
                self.s3.put_bucket_encryption(
                    Bucket=self.bucket, ServerSideEncryptionConfiguration={"Rules": [rule]}
                )
        if missing and self.public_read or public:
            self._public_read_ensure()
        return settings_differ + public

    def prefix_delete(self, prefix: str) -> int:
        """Delete every object version and delete marker under prefix; how many went."""
        deleted = 0
        with translated(f"empty {prefix} in bucket {self.bucket}"):
            try:
                uploads = self.s3.get_paginator("list_multipart_uploads")
                for page in uploads.paginate(Bucket=self.bucket, Prefix=prefix):
                    for upload in page.get("Uploads", []):
                        self.s3.abort_multipart_upload(
                            Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                        )
                while True:
                    # Always list from the start: what a page showed is gone once deleted.
                    page = self.s3.list_object_versions(
                        Bucket=self.bucket, Prefix=prefix, MaxKeys=BATCH
                    )
                    batch = [
                        {"Key": v["Key"], "VersionId": v["VersionId"]}
                        for v in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
                        if v["Key"].startswith(prefix)  # never trust the server to filter alone
                    ]
                    if not batch:
                        return deleted
                    for start in range(0, len(batch), BATCH):
                        chunk = batch[start : start + BATCH]
                        answer = self.s3.delete_objects(
                            Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True}
                        )
                        if answer.get("Errors"):
                            first = answer["Errors"][0]
                            raise StepFailed(
                                f"S3 kept {len(answer['Errors'])} objects under {prefix}, e.g. "
                                f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}"
                            )
                        deleted += len(chunk)
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code")) == "NoSuchBucket":
                    return deleted
                raise

    def prefix_holds(self, prefix: str) -> int:
        """How many object versions, delete markers and unfinished uploads a first listing
        finds under prefix (at most a page of each); 0 when it is empty or the bucket gone."""
        with translated(f"list {prefix} in bucket {self.bucket}"):
            try:
                page = self.s3.list_object_versions(Bucket=self.bucket, Prefix=prefix, MaxKeys=1)
                uploads = self.s3.list_multipart_uploads(
                    Bucket=self.bucket, Prefix=prefix, MaxUploads=1
                )
            except ClientError as exc:
                if str(exc.response.get("Error", {}).get("Code")) == "NoSuchBucket":
                    return 0
                raise
        found = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
        found += uploads.get("Uploads", [])
        return sum(1 for item in found if item["Key"].startswith(prefix))

    # --- the bucket policy, shared by every tenant ----------------------------------------------

    @contextmanager
    def policy_lock(self) -> Iterator[None]:
        """Serialise read-modify-write of the one bucket policy across workers (PostgreSQL)."""
        if connection.vendor != "postgresql":
            yield
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [_POLICY_LOCK_KEY])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_POLICY_LOCK_KEY])

    def policy(self) -> dict:
        with translated(f"read the policy of bucket {self.bucket}"):
            try:
                text = self.s3.get_bucket_policy(Bucket=self.bucket)["Policy"]
            except ClientError as exc:
                if is_missing(exc):
                    return {"Version": "2012-10-17", "Statement": []}
                raise
        return json.loads(text)

    def policy_put(self, policy: dict) -> None:
        with translated(f"write the policy of bucket {self.bucket}"):
            if policy.get("Statement"):
                self.s3.put_bucket_policy(Bucket=self.bucket, Policy=s3policy.encoded(policy))
            else:
                try:
                    self.s3.delete_bucket_policy(Bucket=self.bucket)
                except ClientError as exc:
                    if not is_missing(exc):
                        raise

    # --- the tenants' IAM users and keys --------------------------------------------------------

    def user_arn(self, name: str) -> str | None:
        with translated(f"read IAM user {name}"):
            try:
                return self.iam.get_user(UserName=name)["User"]["Arn"]
            except ClientError as exc:
                if is_missing(exc):
                    return None
                raise

    def user_create(self, name: str, slug: str) -> str:
        with translated(f"create IAM user {name}"):
            tags = [{"Key": TENANT_TAG, "Value": slug}]
            return self.iam.create_user(UserName=name, Tags=tags)["User"]["Arn"]

    def user_tag(self, name: str, slug: str) -> None:
        with translated(f"tag IAM user {name}"):
            self.iam.tag_user(UserName=name, Tags=[{"Key": TENANT_TAG, "Value": slug}])

    def user_tenant(self, name: str) -> str | None:
        """The slug in the user's tenant tag, or None when it carries none."""
        with translated(f"read the tags of IAM user {name}"):
            pages = self.iam.get_paginator("list_user_tags").paginate(UserName=name)
            for page in pages:
                for tag in page.get("Tags", []):
                    if tag.get("Key") == TENANT_TAG:
                        return tag.get("Value")
        return None

    def access_key_ids(self, name: str) -> list[str]:
        """The user's access key ids; none when there is no such user (its keys went with it)."""
        with translated(f"list the access keys of {name}"):
            try:
                keys = self.iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
            except ClientError as exc:
                if is_missing(exc):
                    return []
                raise
        return [key["AccessKeyId"] for key in keys]

    def access_key_create(self, name: str) -> tuple[str, str]:
        with translated(f"create an access key for {name}"):
            key = self.iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def access_key_delete(self, name: str, key_id: str) -> None:
        with translated(f"delete an access key of {name}"):
            try:
                self.iam.delete_access_key(UserName=name, AccessKeyId=key_id)
            except ClientError as exc:
                if not is_missing(exc):
                    raise

    def user_policy(self, name: str, policy_name: str) -> dict | None:
        """The user's inline policy of that name, or None."""
        with translated(f"read policy {policy_name} of IAM user {name}"):
            try:
                document = self.iam.get_user_policy(UserName=name, PolicyName=policy_name)
            except ClientError as exc:
                if is_missing(exc):
                    return None
                raise
        found = document["PolicyDocument"]
        # boto3 decodes the URL-encoded JSON; a server answering oddly may leave it a string.
        return json.loads(found) if isinstance(found, str) else found

    def user_policy_put(self, name: str, policy_name: str, policy: dict) -> None:
        with translated(f"write policy {policy_name} of IAM user {name}"):
            self.iam.put_user_policy(
                UserName=name, PolicyName=policy_name, PolicyDocument=s3policy.encoded(policy)
            )

    def user_delete(self, name: str) -> bool:
        """Delete the user, its inline policies and keys; False if it was gone already."""
        if self.user_arn(name) is None:
            return False
        # IAM refuses to delete a user that still has policies or keys.
        with translated(f"delete the policies of IAM user {name}"):
            for page in self.iam.get_paginator("list_user_policies").paginate(UserName=name):
                for policy_name in page["PolicyNames"]:
                    try:
                        self.iam.delete_user_policy(UserName=name, PolicyName=policy_name)
                    except ClientError as exc:
                        if not is_missing(exc):
                            raise
        for key_id in self.access_key_ids(name):
            self.access_key_delete(name, key_id)
        with translated(f"delete IAM user {name}"):
            try:
                self.iam.delete_user(UserName=name)
            except ClientError as exc:
                if not is_missing(exc):
                    raise
        return True
