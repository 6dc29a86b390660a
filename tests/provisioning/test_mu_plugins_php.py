"""The install Job's other mu-plugins, run under real PHP with the pod's environment."""

import json

import pytest

from provisioning.manifests.wordpress import INSTALL_SCRIPT
from tests.fakes.wordpress import mu_plugins, php_string, run_php

PLUGINS = mu_plugins(INSTALL_SCRIPT)


def role_after(hook: str, login: str, claim: dict, env: dict[str, str]) -> list[str]:
    """The roles of a user after the OIDC plugin fired `hook` for them with `claim`."""
    code = f"""
eval('?>' . {php_string(PLUGINS["portal-sso-roles.php"])});
$user = new WP_User(['ID' => 5, 'login' => {php_string(login)}, 'role' => 'subscriber']);
do_action({php_string(hook)}, $user, json_decode({php_string(json.dumps(claim))}, true));
echo json_encode($user->roles);
"""
    return json.loads(run_php(code, env))


HOOKS = [
    "openid-connect-generic-user-create",
    "openid-connect-generic-update-user-using-current-claim",
]


@pytest.mark.parametrize("hook", HOOKS)
def test_the_owner_becomes_administrator_and_the_others_the_member_role(hook):
    env = {"WP_OWNER_USERNAME": "olivia", "WP_MEMBER_ROLE": "author"}
    assert role_after(hook, "olivia", {"preferred_username": "Olivia"}, env) == ["administrator"]
    assert role_after(hook, "mark", {"preferred_username": "mark"}, env) == ["author"]
    # The claim decides, not the WordPress login a person may have picked.
    assert role_after(hook, "olivia", {"preferred_username": "mark"}, env) == ["author"]


def test_no_owner_configured_makes_nobody_administrator():
    env = {"WP_OWNER_USERNAME": "", "WP_MEMBER_ROLE": ""}
    assert role_after(HOOKS[0], "x", {"preferred_username": ""}, env) == ["editor"]
    assert role_after(HOOKS[0], "x", {}, env) == ["editor"]


def test_media_go_to_the_platforms_endpoint_without_acls():
    code = f"""
eval('?>' . {php_string(PLUGINS["portal-s3-endpoint.php"])});
echo json_encode([
    'args' => apply_filters('as3cf_aws_s3_client_args', ['region' => 'de']),
    'acl' => apply_filters('as3cf_aws_s3_default_acl', 'public-read'),
]);
"""
    seen = json.loads(run_php(code, {"S3_ENDPOINT_URL": "https://s3.eu-central-3.ionoscloud.com"}))
    assert seen["args"] == {
        "region": "de",
        "endpoint": "https://s3.eu-central-3.ionoscloud.com",
        "use_path_style_endpoint": True,
    }
    assert seen["acl"] is None
    unset = json.loads(run_php(code, {}))
    assert unset["args"] == {"region": "de"}
