"""The pipeline's Authentik service account for one tenant and its app password."""

from typing import TYPE_CHECKING

from provisioning import secrets as keys
from provisioning.errors import StepFailed
from provisioning.steps.base import Looked
from provisioning.steps.sso import API, GROUP_MARKER

if TYPE_CHECKING:
    from provisioning.drivers.authentik import AuthentikDriver, Binding, Token, User


class PipelineAccount:
    """What the pipeline signs in with: Authentik's client_credentials grant identifies a
    machine by a user name and authenticates it by an app-password token of that user, sent as
    client_id + username + password; the provider's client secret alone is not enough
    (docs.goauthentik.io/add-secure-apps/providers/oauth2/machine_to_machine; see also
    github.com/goauthentik/authentik/issues/17892). So per tenant: a service account
    `pipeline-<slug>` marked with the tenant's slug in its attributes (as the sso step marks
    the groups it makes), and a non-expiring app password `pipeline-<slug>-app-password` of
    that account. The pipeline's application is bound to that account alone, so no other
    user's app password gets a token for this tenant's client (the grant runs the
    application's policies, and with no binding everyone passes). Authentik generates the
    key; it is read once per apply through the token's view_key endpoint and kept in the
    tenant's Secret (PIPELINE_APP_PASSWORD) only, never in the portal's database, a log or an
    audit row."""

    def __init__(self, spec, secrets, driver: "AuthentikDriver | None"):
        self.spec = spec
        self.secrets = secrets
        self.driver = driver

    @property
    def username(self) -> str:
        return self.spec.pipeline_slug

    @property
    def token_id(self) -> str:
        return f"{self.spec.pipeline_slug}-app-password"

    @property
    def marker(self) -> dict[str, str]:
        return {GROUP_MARKER: self.spec.slug}

    def render(self) -> list[dict]:
        """The calls a first apply makes, for the plan file (no key: it is Authentik's)."""
        return [
            {
                "method": "GET",
                "path": f"{API}/core/users/?username={self.username}",
                "gives": "the service account if it exists: the tenant's if its attributes "
                f"carry {self.marker}, else the step fails",
            },
            {
                "method": "POST",
                "path": f"{API}/core/users/",
                "body": {
                    "username": self.username,
                    "name": self._name,
                    "type": "service_account",
                    "is_active": True,
                    "attributes": self.marker,
                },
            },
            {
                "method": "POST",
                "path": f"{API}/core/tokens/",
                "body": {
                    "identifier": self.token_id,
                    "intent": "app_password",
                    "user": f"<pk of user {self.username}>",
                    "description": self._description,
                    "expiring": False,
                },
            },
            {
                "method": "POST",
                "path": f"{API}/policies/bindings/",
                "body": {
                    "target": f"<pk of application {self.username}>",
                    "user": f"<pk of user {self.username}>",
                    "order": 0,
                    "enabled": True,
                },
            },
            {
                "method": "GET",
                "path": f"{API}/core/tokens/{self.token_id}/view_key/",
                "gives": "the app password, into the tenant's Secret "
                f"({keys.PIPELINE_APP_PASSWORD})",
            },
        ]

    # --- the real Authentik ----------------------------------------------------------------------

    def live_check(self) -> list[str]:
        user = self._own_user()
        if user is None:
            return [f"service account {self.username} is missing"]
        out = []
        token = self._own_token(user)
        if token is None:
            out.append(f"app password {self.token_id} is missing")
        elif token.expiring:
            out.append(f"app password {self.token_id} expires")
        if self.secrets.get(keys.PIPELINE_APP_PASSWORD) is None:
            out.append("the pipeline's app password is not in the tenant's Secret yet")
        app = self.driver.application(self.username)
        if app is not None:  # a missing one the client's check reports
            ours, others = self._bindings(str(app.pk), user)
            if not ours:
                out.append(f"application {self.username} is not limited to {self.username}")
            if others:
                out.append(f"application {self.username} is open to {len(others)} others too")
        return out

    def live_apply(self) -> list[str]:
        d = self.driver
        done = []
        user = self._own_user()
        if user is None:
            user = d.service_account_create(self.username, self._name, self.marker)
            done.append(f"created service account {self.username}")
        token = self._own_token(user)
        if token is None:
            d.app_password_create(self.token_id, user.pk, self._description)
            done.append(f"created app password {self.token_id}")
        elif token.expiring:
            d.token_update(self.token_id, {"expiring": False})
            done.append(f"made app password {self.token_id} non-expiring")
        app = d.application(self.username)
        if app is None:
            raise StepFailed(f"Authentik lost the application {self.username} meanwhile.")
        ours, others = self._bindings(str(app.pk), user)
        for binding in others:
            d.binding_delete(binding.pk)
        if others:
            done.append(f"unbound {len(others)} others from application {self.username}")
        if not ours:
            d.user_binding_create(str(app.pk), user.pk)
            done.append(f"limited application {self.username} to {self.username}")
        # Read every apply, so a key rotated in Authentik reaches the pipeline's entry.
        key = d.token_key(self.token_id)
        if self.secrets.get(keys.PIPELINE_APP_PASSWORD) != key:
            self.secrets.put({keys.PIPELINE_APP_PASSWORD: key})
        return done

    def live_destroy(self) -> tuple[list[str], list[str]]:
        """(what was deleted, what was left because it is not the tenant's)."""
        d = self.driver
        user = d.user(self.username)
        if user is None:
            return [], []
        if not self._is_ours(user):
            return [], [f"service account {self.username}"]
        token = d.token(self.token_id)
        deleted = []
        if token is not None and token.user == user.pk and d.token_delete(self.token_id):
            deleted.append(f"app password {self.token_id}")
        if d.user_delete(user.pk, self.username):
            deleted.append(f"service account {self.username}")
        return deleted, []

    def gone(self) -> list[Looked]:
        """The account and its app password, looked up after a destroy."""
        user = self.driver.user(self.username)
        token = self.driver.token(self.token_id)
        ours = user is None or self._is_ours(user)
        label = f"Authentik service account {self.username}"
        return [
            Looked(label, f"user pk {user.pk}" if user else "", ours),
            Looked(
                f"Authentik app password {self.token_id}",
                f"of user pk {token.user}" if token else "",
                token is not None and user is not None and token.user == user.pk and ours,
            ),
        ]

    def leftover(self) -> list[str]:
        user = self.driver.user(self.username)
        if user is not None and self._is_ours(user):
            return [f"Authentik still has the service account {self.username}"]
        return []

    # --- what is the tenant's --------------------------------------------------------------------

    def _is_ours(self, user: "User") -> bool:
        return user.attributes.get(GROUP_MARKER) == self.spec.slug

    def _own_user(self) -> "User | None":
        user = self.driver.user(self.username)
        if user is not None and not self._is_ours(user):
            raise StepFailed(
                f"Authentik already has a user {self.username} that is not tenant "
                f"{self.spec.slug}'s (its attributes lack {GROUP_MARKER}: {self.spec.slug}). "
                "The portal adopts only what carries the tenant's marker, so nothing was "
                "changed: delete or rename it in Authentik, or pick another slug."
            )
        return user

    def _bindings(self, target: str, user: "User") -> "tuple[list[Binding], list[Binding]]":
        """(the account's bindings, the other users' and groups' ones): the application is
        the tenant's alone, so only its account may pass; a policy's binding is left be."""
        bindings = [b for b in self.driver.bindings(target) if b.user is not None or b.group]
        ours = [b for b in bindings if b.user == user.pk and b.enabled]
        return ours, [b for b in bindings if b not in ours]

    def _own_token(self, user: "User") -> "Token | None":
        token = self.driver.token(self.token_id)
        if token is not None and (token.user != user.pk or token.intent != "app_password"):
            raise StepFailed(
                f"Authentik already has a token {self.token_id} that is not the app password of "
                f"the service account {self.username}, so nothing was changed: delete it in "
                "Authentik."
            )
        return token

    @property
    def _name(self) -> str:
        return f"Content pipeline: {self.spec.display_name or self.spec.slug}"

    @property
    def _description(self) -> str:
        return f"The content pipeline's sign-in for tenant {self.spec.slug} (tenant portal)"
