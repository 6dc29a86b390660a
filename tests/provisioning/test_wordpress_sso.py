"""The tenant WordPress's side of sign-in: no e-mail linking, roles from the claim, checked."""

import re

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from provisioning.manifests.wordpress import INSTALL_SCRIPT, deployment
from provisioning.spec import spec_for
from tenants.models import TenantMember
from tests.factories import TenantFactory, UserFactory
from tests.provisioning.wpconfig import constants, pod_env

pytestmark = pytest.mark.django_db


def env_of(tenant) -> dict[str, str]:
    return pod_env(deployment(spec_for(tenant))["spec"]["template"]["spec"]["containers"][0])


def test_an_existing_account_is_never_linked_by_e_mail():
    env = env_of(TenantFactory(slug="shop"))
    oidc = constants(env["WORDPRESS_CONFIG_EXTRA"], env)
    # With linking on, a new Authentik user showing the admin's e-mail became user 1.
    assert oidc["OIDC_LINK_EXISTING_USERS"] is False
    assert oidc["OIDC_CREATE_IF_DOES_NOT_EXIST"] is True


def test_the_owner_is_administrator_and_members_get_the_configured_role(settings):
    settings.PORTAL_WORDPRESS_MEMBER_ROLE = "author"
    tenant = TenantFactory(slug="shop", owner=UserFactory(username="olivia"))
    TenantMember.objects.create(tenant=tenant, username="mark")

    env = env_of(tenant)

    assert env["WP_OWNER_USERNAME"] == "olivia"
    assert env["WP_MEMBER_ROLE"] == "author"
    plugin = INSTALL_SCRIPT.split("portal-sso-roles.php <<'PHP'\n")[1].split("\nPHP\n")[0]
    assert "$claim['preferred_username']" in plugin
    assert "getenv('WP_OWNER_USERNAME')" in plugin and "'administrator'" in plugin
    hooks = re.findall(r"add_action\('([\w-]+)', 'portal_sso_role', 10, 2\);", plugin)
    # OpenID Connect Generic fires the first for a new user, the second on every sign-in.
    assert hooks == [
        "openid-connect-generic-user-create",
        "openid-connect-generic-update-user-using-current-claim",
    ]


def test_an_owner_change_rolls_the_pods():
    tenant = TenantFactory(slug="shop", owner=UserFactory(username="olivia"))
    before = deployment(spec_for(tenant))["spec"]["template"]
    tenant.owner = UserFactory(username="oscar")
    assert deployment(spec_for(tenant))["spec"]["template"] != before


def test_a_member_role_beyond_editor_is_refused(settings):
    settings.PORTAL_WORDPRESS_MEMBER_ROLE = "administrator"
    with pytest.raises(SystemCheckError, match="provisioning.E020"):
        call_command("check")
