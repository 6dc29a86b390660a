"""The storage step: the tenant's S3 prefix and the credentials that reach only that prefix."""

import json

from django.conf import settings

from provisioning import s3policy
from provisioning.drivers.objectstore import ObjectStore
from provisioning.secrets import (
    PLACEHOLDER,
    S3_ACCESS_KEY_ID,
    S3_SECRET_ACCESS_KEY,
    require_real,
)
from provisioning.steps.base import Outcome, Step

UNCHANGED = "unchanged"  # the engine's status for "ran, found nothing to do"


class StorageStep(Step):
    """Owns tenants/<slug>/ in the platform bucket, the tenant's IAM user and access key, and
    the tenant's statements in the bucket policy (the bucket itself is shared: created, never
    deleted)."""

    name = "storage"
    title = "S3"
    plan_suffix = "json"

    def make_driver(self) -> ObjectStore | None:
        return ObjectStore.from_settings()

    @property
    def user_name(self) -> str:
        return settings.PORTAL_S3_TENANT_USER_PATTERN.format(slug=self.spec.slug)

    def render(self) -> str:
        principal = f"arn:aws:iam::<account>:user/{self.user_name}"
        plan = {
            "bucket": {
                "name": self.spec.s3_bucket,
                "region": settings.PORTAL_S3_REGION,
                "versioning": "Enabled",
                "default_encryption": settings.PORTAL_S3_ENCRYPTION,
            },
            "prefix": self.spec.s3_prefix,
            "iam_user": self.user_name,
            "secret": {S3_ACCESS_KEY_ID: PLACEHOLDER, S3_SECRET_ACCESS_KEY: PLACEHOLDER},
            "bucket_policy_statements": s3policy.tenant_statements(
                self.spec.s3_bucket, self.spec.slug, principal
            ),
        }
        return json.dumps(plan, indent=2) + "\n"

    # --- live -----------------------------------------------------------------------------------

    def _statements_match(self, policy: dict, arn: str) -> bool:
        wanted = s3policy.tenant_statements(self.spec.s3_bucket, self.spec.slug, arn)
        sids = s3policy.statement_ids(self.spec.slug)
        present = [s for s in policy.get("Statement", []) if s.get("Sid") in sids]
        key = lambda s: s["Sid"]  # noqa: E731
        return sorted(map(s3policy.normalized, present), key=key) == sorted(
            map(s3policy.normalized, wanted), key=key
        )

    def live_check(self) -> list[str]:
        require_real(self.ctx.secrets, "The tenant's S3 credentials")
        store: ObjectStore = self.driver
        differences = store.bucket_differences()
        arn = store.user_arn(self.user_name)
        if arn is None:
            return [*differences, f"IAM user {self.user_name} is missing"]
        stored = self.ctx.secrets.get(S3_ACCESS_KEY_ID)
        keys = store.access_key_ids(self.user_name)
        if stored is None or self.ctx.secrets.get(S3_SECRET_ACCESS_KEY) is None:
            differences.append("no S3 access key in the tenant's Secret yet")
        elif stored not in keys:
            differences.append("the stored S3 access key is no longer the user's")
        if set(keys) - {stored}:
            differences.append(f"{len(set(keys) - {stored})} access key(s) the Secret doesn't hold")
        if not self._statements_match(store.policy(), arn):
            differences.append("the bucket policy lacks the tenant's statements")
        return differences

    def live_apply(self) -> Outcome:
        require_real(self.ctx.secrets, "The tenant's S3 credentials")
        store: ObjectStore = self.driver
        done = [f"bucket: {d}, fixed" for d in store.bucket_ensure()]
        arn = store.user_arn(self.user_name)
        if arn is None:
            arn = store.user_create(self.user_name, self.spec.slug)
            done.append(f"created IAM user {self.user_name}")
        done += self._key_ensure(store)
        with store.policy_lock():
            policy = store.policy()
            if not self._statements_match(policy, arn):
                sids = s3policy.statement_ids(self.spec.slug)
                others = [s for s in policy.get("Statement", []) if s.get("Sid") not in sids]
                policy["Statement"] = [
                    *others,
                    *s3policy.tenant_statements(self.spec.s3_bucket, self.spec.slug, arn),
                ]
                store.policy_put(policy)
                done.append(f"bucket policy allows {self.user_name} on {self.spec.s3_prefix}")
        if not done:
            return Outcome(UNCHANGED, "already matches")
        return Outcome.done("; ".join(done))

    def _key_ensure(self, store: ObjectStore) -> list[str]:
        """One access key, held in the Secret; keys nobody holds (a crash after create) go."""
        done = []
        stored = self.ctx.secrets.get(S3_ACCESS_KEY_ID)
        has_secret = self.ctx.secrets.get(S3_SECRET_ACCESS_KEY) is not None
        keys = store.access_key_ids(self.user_name)
        keep = stored if stored in keys and has_secret else None
        for key_id in keys:
            if key_id != keep:
                store.access_key_delete(self.user_name, key_id)
                done.append("deleted an access key the Secret didn't hold")
        if keep is None:
            key_id, secret = store.access_key_create(self.user_name)
            # The provider generates the key: store it at once, before anything else uses it.
            self.ctx.secrets.put({S3_ACCESS_KEY_ID: key_id, S3_SECRET_ACCESS_KEY: secret})
            done.append("created an access key and stored it in the tenant's Secret")
        return done

    def live_destroy(self) -> Outcome:
        store: ObjectStore = self.driver
        deleted = store.prefix_delete(self.spec.s3_prefix)
        with store.policy_lock():
            policy = store.policy()
            sids = s3policy.statement_ids(self.spec.slug)
            kept = [s for s in policy.get("Statement", []) if s.get("Sid") not in sids]
            if len(kept) != len(policy.get("Statement", [])):
                store.policy_put({**policy, "Statement": kept})
        store.user_delete(self.user_name)
        return Outcome.done(
            f"deleted {deleted} object versions under {self.spec.s3_prefix}, "
            f"the tenant's policy statements and IAM user {self.user_name}"
        )
