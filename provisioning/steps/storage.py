"""The storage step: the tenant's S3 prefix and the credentials that reach only that prefix."""

import json

from django.conf import settings

from provisioning import s3policy
from provisioning.drivers.ionos import IonosApi, IonosTenantUser, principal_kind
from provisioning.drivers.objectstore import TENANT_TAG, ObjectStore
from provisioning.errors import StepFailed
from provisioning.secrets import (
    PLACEHOLDER,
    S3_ACCESS_KEY_ID,
    S3_SECRET_ACCESS_KEY,
    require_real,
)
from provisioning.steps.base import Looked, Outcome, Step

UNCHANGED = "unchanged"  # the engine's status for "ran, found nothing to do"


class IamTenantUser:
    """The tenant's IAM user and its access keys, its ARN the policy's principal
    (PORTAL_S3_CREDENTIALS=iam)."""

    kind = "AWS"
    marker = f"tag {TENANT_TAG} with the tenant's slug"

    def __init__(self, store: ObjectStore, name: str, slug: str):
        self.store = store
        self.name = name
        self.slug = slug
        self.label = f"IAM user {name}"
        self.principal: str | None = None

    def find(self) -> bool:
        self.principal = self.store.user_arn(self.name)
        return self.principal is not None

    def tenant(self) -> str | None:
        return self.store.user_tenant(self.name)

    def mark(self) -> None:
        self.store.user_tag(self.name, self.slug)

    def create(self) -> None:
        self.principal = self.store.user_create(self.name, self.slug)

    def key_ids(self) -> list[str]:
        return self.store.access_key_ids(self.name)

    def key_create(self) -> tuple[str, str]:
        return self.store.access_key_create(self.name)

    def key_delete(self, key_id: str) -> None:
        self.store.access_key_delete(self.name, key_id)

    def delete(self) -> bool:
        return self.store.user_delete(self.name)


class StorageStep(Step):
    """Owns tenants/<slug>/ in the platform bucket, the tenant's user and its one access key, and
    what lets that user reach the prefix: with PORTAL_S3_CREDENTIALS=iam the user's own inline
    policy, with ionos (IONOS users take no IAM policies) the tenant's statements in the shared
    bucket policy, whose size S3 caps. The bucket itself is shared: created, never deleted."""

    name = "storage"
    title = "S3"
    plan_suffix = "json"

    def make_driver(self) -> ObjectStore | None:
        store = ObjectStore.from_settings()
        if store is not None:
            self.tenant_user = self._tenant_user(store)
        return store

    @property
    def user_name(self) -> str:
        return settings.PORTAL_S3_TENANT_USER_PATTERN.format(slug=self.spec.slug)

    @property
    def ionos(self) -> bool:
        mode = settings.PORTAL_S3_CREDENTIALS
        if mode not in ("iam", "ionos"):
            raise StepFailed(f"PORTAL_S3_CREDENTIALS is {mode!r}; it takes iam or ionos.")
        return mode == "ionos"

    @property
    def ionos_email(self) -> str:
        return f"{self.user_name}@{settings.PORTAL_IONOS_TENANT_USER_DOMAIN}".lower()

    def _tenant_user(self, store: ObjectStore) -> "IamTenantUser | IonosTenantUser":
        if not self.ionos:
            return IamTenantUser(store, self.user_name, self.spec.slug)
        api = IonosApi.from_settings()
        if api is None or not settings.PORTAL_IONOS_TENANT_USER_DOMAIN:
            raise StepFailed(
                "PORTAL_S3_CREDENTIALS=ionos needs PORTAL_IONOS_TOKEN and "
                "PORTAL_IONOS_TENANT_USER_DOMAIN (the mail domain of the tenants' IONOS users)."
            )
        return IonosTenantUser(
            api, self.ionos_email, self.spec.slug, settings.PORTAL_IONOS_BUCKET_TYPE
        )

    def render(self) -> str:
        if self.ionos:
            kind = principal_kind(settings.PORTAL_IONOS_BUCKET_TYPE)
            principal = (
                f"arn:aws:iam:::user/<contract number>:<user id of {self.ionos_email}>"
                if kind == "AWS"
                else f"<s3CanonicalUserId of {self.ionos_email}>"
            )
            access = {
                "ionos_user": self.ionos_email,
                "bucket_policy_statements": s3policy.tenant_statements(
                    self.spec.s3_bucket, self.spec.slug, principal, kind
                ),
            }
        else:
            access = {
                "iam_user": self.user_name,
                "iam_user_policy": {
                    "name": s3policy.USER_POLICY_NAME,
                    "document": self._user_policy(),
                },
            }
        plan = {
            "bucket": {
                "name": self.spec.s3_bucket,
                "region": settings.PORTAL_S3_REGION,
                "versioning": "Enabled",
                "default_encryption": settings.PORTAL_S3_ENCRYPTION,
            },
            "prefix": self.spec.s3_prefix,
            **access,
            "secret": {S3_ACCESS_KEY_ID: PLACEHOLDER, S3_SECRET_ACCESS_KEY: PLACEHOLDER},
        }
        return json.dumps(plan, indent=2) + "\n"

    # --- live -----------------------------------------------------------------------------------

    def _user_policy(self) -> dict:
        return s3policy.tenant_user_policy(self.spec.s3_bucket, self.spec.slug)

    def _wanted(self, principal: str) -> list[dict]:
        return s3policy.tenant_statements(
            self.spec.s3_bucket, self.spec.slug, principal, self.tenant_user.kind
        )

    def _own_statements(self, policy: dict) -> list[dict]:
        sids = s3policy.statement_ids(self.spec.slug)
        return [s for s in s3policy.statements(policy) if s.get("Sid") in sids]

    def _user_policy_matches(self, store: ObjectStore) -> bool | None:
        """Whether the IAM user's inline policy is the wanted one; None if it has none."""
        present = store.user_policy(self.user_name, s3policy.USER_POLICY_NAME)
        if present is None:
            return None
        return s3policy.same_statements(
            s3policy.statements(present), s3policy.statements(self._user_policy())
        )

    def live_check(self) -> list[str]:
        require_real(self.ctx.secrets, "The tenant's S3 credentials")
        store: ObjectStore = self.driver
        who = self.tenant_user
        differences = store.bucket_differences()
        if not who.find():
            return [*differences, f"{who.label} is missing"]
        whose = self._foreign(who)
        if whose:
            return [*differences, f"{who.label} exists and is {whose}"]
        stored = self.ctx.secrets.get(S3_ACCESS_KEY_ID)
        keys = who.key_ids()
        if stored is None or self.ctx.secrets.get(S3_SECRET_ACCESS_KEY) is None:
            differences.append("no S3 access key in the tenant's Secret yet")
        elif stored not in keys:
            differences.append("the stored S3 access key is no longer the user's")
        if set(keys) - {stored}:
            differences.append(f"{len(set(keys) - {stored})} access key(s) the Secret doesn't hold")
        if who.principal is None:
            differences.append(f"{who.label} has no S3 identity yet")
            return differences
        present = self._own_statements(store.policy())
        if self.ionos:
            if not s3policy.same_statements(present, self._wanted(who.principal)):
                differences.append("the bucket policy lacks the tenant's statements")
            return differences
        matches = self._user_policy_matches(store)
        if matches is None:
            differences.append(f"{who.label} has no policy {s3policy.USER_POLICY_NAME}")
        elif not matches:
            differences.append(f"{who.label}'s policy {s3policy.USER_POLICY_NAME} differs")
        if present:
            # Older portals put every tenant in the bucket policy, which S3 caps at 20 KB.
            differences.append("the bucket policy still holds the tenant's statements")
        return differences

    def live_apply(self) -> Outcome:
        require_real(self.ctx.secrets, "The tenant's S3 credentials")
        store: ObjectStore = self.driver
        who = self.tenant_user
        found = who.find()
        whose = self._foreign(who) if found else None
        if whose:
            raise StepFailed(
                f"{who.label} already exists and is {whose}: the portal adopts only users that "
                f"carry tenant {self.spec.slug}'s marker ({who.marker}), so nothing was changed. "
                "Delete or rename that user, pick another slug, or, if it is this tenant's, "
                f"adopt it: manage.py tenant_adopt {self.spec.slug}."
            )
        done = [f"bucket: {d}, fixed" for d in store.bucket_ensure()]
        if not found:
            who.create()
            done.append(f"created {who.label}")
        done += self._key_ensure(who)
        if who.principal is None:
            # IONOS sets up a new user's S3 identity on its own time: ask again later.
            return Outcome.waiting(f"{who.label} has no S3 identity yet")
        if self.ionos:
            done += self._statements_ensure(store, who)
        else:
            if not self._user_policy_matches(store):
                store.user_policy_put(
                    self.user_name, s3policy.USER_POLICY_NAME, self._user_policy()
                )
                done.append(f"{who.label}'s own policy allows it {self.spec.s3_prefix}")
            # Only once the user's own policy grants the prefix, so access never lapses.
            if self._statements_remove(store):
                done.append("removed the tenant's statements from the bucket policy")
        if not done:
            return Outcome(UNCHANGED, "already matches")
        return Outcome.done("; ".join(done))

    def _statements_ensure(self, store: ObjectStore, who: IonosTenantUser) -> list[str]:
        """Put the tenant's statements in the bucket policy, unless it would outgrow the cap."""
        with store.policy_lock():
            policy = store.policy()
            wanted = self._wanted(who.principal)
            if s3policy.same_statements(self._own_statements(policy), wanted):
                return []
            sids = s3policy.statement_ids(self.spec.slug)
            others = [s for s in s3policy.statements(policy) if s.get("Sid") not in sids]
            policy["Statement"] = [*others, *wanted]
            self._refuse_oversize(policy, others)
            store.policy_put(policy)
        return [f"bucket policy allows {who.label} on {self.spec.s3_prefix}"]

    def _refuse_oversize(self, policy: dict, others: list[dict]) -> None:
        size, limit = s3policy.size(policy), settings.PORTAL_S3_POLICY_MAX_BYTES
        if size <= limit:
            return
        held = len(s3policy.tenants_in({"Statement": others}))
        raise StepFailed(
            f"S3 bucket {self.spec.s3_bucket} is full: its policy holds the statements of "
            f"{held} tenants and would grow to {size} bytes with this one, over "
            f"PORTAL_S3_POLICY_MAX_BYTES ({limit}; S3 refuses bucket policies over 20 KB). "
            "Nothing was changed. Point PORTAL_S3_BUCKET at a new bucket: tenants approved from "
            "then on go there (each tenant keeps the bucket it was approved with), or delete "
            "tenants no longer used."
        )

    def _statements_remove(self, store: ObjectStore) -> bool:
        """Take the tenant's statements out of the bucket policy; False if it held none."""
        # Only this tenant's run writes its statements, so a read without the lock may decide.
        if not self._own_statements(store.policy()):
            return False
        with store.policy_lock():
            policy = store.policy()
            sids = s3policy.statement_ids(self.spec.slug)
            kept = [s for s in s3policy.statements(policy) if s.get("Sid") not in sids]
            store.policy_put({**policy, "Statement": kept})
        return True

    def _key_ensure(self, who: "IamTenantUser | IonosTenantUser") -> list[str]:
        """One access key, held in the Secret; keys nobody holds (a crash after create) go."""
        done = []
        stored = self.ctx.secrets.get(S3_ACCESS_KEY_ID)
        has_secret = self.ctx.secrets.get(S3_SECRET_ACCESS_KEY) is not None
        keys = who.key_ids()
        keep = stored if stored in keys and has_secret else None
        for key_id in keys:
            if key_id != keep:
                who.key_delete(key_id)
                done.append("deleted an access key the Secret didn't hold")
        if keep is None:
            key_id, secret = who.key_create()
            # The provider generates the key: store it at once, before anything else uses it.
            self.ctx.secrets.put({S3_ACCESS_KEY_ID: key_id, S3_SECRET_ACCESS_KEY: secret})
            done.append("created an access key and stored it in the tenant's Secret")
        return done

    def _foreign(self, who: "IamTenantUser | IonosTenantUser") -> str | None:
        """Whose the found user is when not this tenant's: the words for a message, or None."""
        owner = who.tenant()
        if owner == self.spec.slug:
            return None
        return f"tenant {owner}'s" if owner else "not the portal's"

    def adopt(self, dry_run: bool = False) -> list[str]:
        """Give the tenant's existing user the tenant's marker (made by an older portal, or by
        hand for it): what it marked. Another tenant's user is refused; nothing else changes."""
        if self.planning:
            return []
        who = self.tenant_user
        if not who.find():
            return []
        owner = who.tenant()
        if owner == self.spec.slug:
            return []
        if owner:
            raise StepFailed(f"{who.label} is tenant {owner}'s: nothing was adopted.")
        if not dry_run:
            who.mark()
        return [who.label]

    def live_destroy(self) -> Outcome:
        store: ObjectStore = self.driver
        who = self.tenant_user
        deleted = store.prefix_delete(self.spec.s3_prefix)
        self._statements_remove(store)
        message = f"deleted {deleted} object versions under {self.spec.s3_prefix}"
        whose = self._foreign(who) if who.find() else None
        if whose:
            return Outcome.done(f"{message}; left {who.label} alone: it is {whose}")
        # An IAM user goes with its inline policy (IAM refuses to delete a user holding one).
        who.delete()
        return Outcome.done(f"{message}, {who.label} and what let it reach the prefix")

    def live_gone(self) -> list[Looked]:
        store: ObjectStore = self.driver
        who = self.tenant_user
        prefix = self.spec.s3_prefix
        held = store.prefix_holds(prefix)
        looked = [Looked(f"S3 prefix {prefix}", "objects still under it" if held else "")]
        found = who.find()
        ours = not found or self._foreign(who) is None
        keys = who.key_ids()  # a real look-up: IAM answers NoSuchEntity for a user gone
        looked.append(Looked(who.label, f"{who.label} exists" if found else "", ours))
        looked.append(
            Looked(f"S3 access keys of {who.label}", f"{len(keys)} key(s)" if keys else "", ours)
        )
        statements = self._own_statements(store.policy())
        looked.append(
            Looked(
                f"the tenant's statements in the policy of bucket {self.spec.s3_bucket}",
                f"{len(statements)} statement(s)" if statements else "",
            )
        )
        return looked
