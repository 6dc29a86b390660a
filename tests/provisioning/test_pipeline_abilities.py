"""The pipeline's content abilities and the MCP server's guard (portal-pipeline-abilities.php),
run under real PHP on stubs of the Abilities API and of the posts, terms and uploads it calls."""

import base64
import json

import pytest

from provisioning.manifests.wordpress import INSTALL_SCRIPT
from tests.fakes.wordpress import STUBS, USERS, mu_plugins, php_string, run_php

PLUGINS = mu_plugins(INSTALL_SCRIPT)
ABILITIES = STUBS.with_name("abilities.php")
NAMES = [
    "portal/create-post",
    "portal/update-post",
    "portal/upload-media",
    "portal/list-categories",
    "portal/list-tags",
]
PIPELINE, ADMIN = 2, 1  # tests/fakes/wordpress USERS: the pipeline's author account, the admin


@pytest.fixture
def site(tmp_path):
    """Run PHP as a request of the site: the mu-plugins loaded, the abilities registered, `user`
    signed in (by the pipeline's token when `token`), `code` run; its JSON output decoded."""
    state = tmp_path / "state.json"
    posts = [{"ID": 1, "post_author": ADMIN, "post_title": "The admin's", "post_status": "publish"}]
    state.write_text(json.dumps({"users": USERS, "posts": posts}))
    env = {
        "WP_STATE": str(state),
        "WP_URL": "http://shop.test",
        "PIPELINE_USER": "content-pipeline",
    }

    def run(code: str, user: int = PIPELINE, token: bool = True):
        script = f"""
require {str(ABILITIES)!r};
eval('?>' . {php_string(PLUGINS["portal-pipeline-abilities.php"])});
eval('?>' . {php_string(PLUGINS["portal-pipeline.php"])});
do_action('wp_abilities_api_categories_init');
do_action('wp_abilities_api_init');
wp_set_current_user({user});
$GLOBALS['portal_pipeline_signed_in'] = {"true" if token else "false"};
function out($value) {{
    if (is_wp_error($value)) {{
        $value = ['error' => $value->code, 'status' => $value->data['status'] ?? null];
    }}
    echo json_encode($value);
}}
// Each ability's permission for one input.
function permissions($input) {{
    return array_map(function ($ability) use ($input) {{
        return call_user_func($ability['permission_callback'], $input);
    }}, $GLOBALS['abilities']);
}}
// What the REST server does with a POST to each route: 'served', or the refusal's status.
function dispatched($routes) {{
    return array_map(function ($route) {{
        $request = new WP_REST_Request('POST', $route);
        $out = apply_filters('rest_request_before_callbacks', null, [], $request);
        return is_wp_error($out) ? $out->data['status'] : 'served';
    }}, $routes);
}}
{code}
"""
        return json.loads(run_php(script, env))

    run.posts = lambda: json.loads(state.read_text())["posts"]
    return run


def test_the_content_abilities_are_registered_for_mcp(site):
    seen = site(
        "out(array_map(function ($a) { return [$a['category'], $a['meta']['mcp']]; },"
        " $GLOBALS['abilities']));"
    )
    assert list(seen) == NAMES
    assert all(v == ["portal-content", {"public": True, "type": "tool"}] for v in seen.values())


def test_nobody_but_the_pipeline_signed_in_by_its_token_may_use_them(site):
    check = "out(permissions(['id' => 1, 'title' => 'T', 'content' => 'c']));"
    # The site's administrator, signed in by cookie: none of them.
    assert set(site(check, user=ADMIN, token=False).values()) == {False}
    # The pipeline's account without its token (an application password, say): none.
    assert set(site(check, user=PIPELINE, token=False).values()) == {False}
    # The pipeline: all but editing the admin's post (an author edits its own).
    allowed = site(check)
    assert allowed.pop("portal/update-post") is False
    assert set(allowed.values()) == {True}


def test_the_pipeline_creates_and_updates_its_own_posts(site):
    post = "['title' => 'Solar', 'content' => '<p>x</p>', 'tags' => [7]]"
    made = site(f"out(run_ability('portal/create-post', {post}));")
    assert made == {"id": 2, "status": "draft", "link": "http://shop.test/?p=2"}
    (_, post) = site.posts()
    assert (post["post_author"], post["post_title"], post["tags_input"]) == (PIPELINE, "Solar", [7])
    changed = site("out(run_ability('portal/update-post', ['id' => 2, 'status' => 'publish']));")
    assert changed["status"] == "publish"
    refused = site("out(run_ability('portal/update-post', ['id' => 1, 'title' => 'Mine now']));")
    assert refused == {"error": "ability_invalid_permissions", "status": 403}
    assert site.posts()[0]["post_title"] == "The admin's"


def test_uploads_take_allowed_files_of_valid_base64_only(site):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()

    def upload(name, data):
        args = f"['filename' => {php_string(name)}, 'data' => {php_string(data)}]"
        return site(f"out(run_ability('portal/upload-media', {args}));")

    assert upload("../../roof.png", png) == {
        "id": 2,
        "url": "http://shop.test/wp-content/uploads/roof.png",
        "mime_type": "image/png",
    }
    assert site.posts()[1]["post_author"] == PIPELINE
    assert upload("shell.php", png)["error"] == "portal_media_type"
    assert upload("roof.png", "not base64!")["error"] == "portal_media_data"


def test_the_terms_are_listed(site):
    assert site("out(run_ability('portal/list-tags'));") == [
        {"id": 7, "name": "Solar", "slug": "solar"}
    ]
    assert site("out(run_ability('portal/list-categories'));")[0]["slug"] == "uncategorized"


def test_the_mcp_server_answers_the_pipeline_only(site):
    routes = [
        "/mcp/mcp-adapter-default-server",
        "/MCP/mcp-adapter-default-server",
        "/mcp",
        "/wp/v2/posts",
    ]
    code = f"out(dispatched(json_decode({php_string(json.dumps(routes))})));"
    # Anyone with `read`, the admin included, is refused the MCP routes; other routes are theirs.
    assert site(code, user=ADMIN, token=False) == [403, 403, 403, "served"]
    assert site(code) == ["served", "served", 403, "served"]
