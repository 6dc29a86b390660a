"""The publishing pipeline (deploy/platform/apps/content-pipeline/publish.py) end to end on
loopback: the portal's pipeline step writes the tenant's entry (fake Kubernetes and Authentik),
the pipeline writes the post with an OpenAI-compatible endpoint, takes a token from Authentik
and publishes to a WordPress stand-in that runs the portal's mu-plugins under real PHP, whose
signed confirmation the portal's webhook records; a failed publication the pipeline reports to
the same webhook, signed with its own key."""

import base64
import importlib.util
import json
import time
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from provisioning import secrets as keys
from provisioning.drivers.kubernetes import KubeApi, KubernetesSecrets, api_client
from provisioning.manifests.wordpress import INSTALL_SCRIPT, environment
from provisioning.spec import spec_for
from provisioning.steps.base import StepContext
from provisioning.steps.namespace import NamespaceStep
from provisioning.steps.pipeline import PipelineStep
from tenants.models import AuditEvent, Tenant
from tenants.pipelinehook import sign
from tests.deploy.render import REPO
from tests.factories import TenantFactory
from tests.fakes.loopback import LoopbackServer
from tests.fakes.wordpress import FakeWordPress, mu_plugins, php_string, run_php

pytestmark = pytest.mark.django_db
CODE = REPO / "deploy" / "platform" / "apps" / "content-pipeline" / "publish.py"
AI_TOKEN = "ionos-ai-test-token"
POST = {"title": "Solar roofs in Berlin", "content": "<p>Three streets went solar.</p>"}


def load_pipeline_module():
    """As Open WebUI Pipelines loads it: the file by path, then its Pipeline class."""
    spec = importlib.util.spec_from_file_location("publish", CODE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Recorder(LoopbackServer):
    """A loopback HTTP server that records each POST and answers with `reply(path, headers,
    body) -> (status, json)`: the AI endpoint, or the portal's webhook as the site sees it."""

    def __init__(self, reply):
        self.seen: list[tuple[str, dict, bytes]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                return

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = dict(self.headers.items())
                recorder.seen.append((self.path, headers, body))
                status, payload = reply(self.path, headers, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.listen(Handler)


def chat_completion(path, headers, body):
    if path != "/v1/chat/completions" or headers.get("Authorization") != f"Bearer {AI_TOKEN}":
        return 401, {"error": {"message": "bad token"}}
    fenced = "Here it is:\n```json\n" + json.dumps(POST) + "\n```"
    return 200, {"choices": [{"message": {"role": "assistant", "content": fenced}}]}


@pytest.fixture
def ai():
    with Recorder(chat_completion) as server:
        yield server


@pytest.fixture
def webhook():
    with Recorder(lambda path, headers, body: (200, {"detail": "recorded"})) as server:
        yield server


def deliver(client, sent, body=None, timestamp=None, signature=None):
    """A request the recorder took, handed to the portal's webhook as it was sent or altered."""
    path, headers, was = sent
    return client.post(
        path,
        was if body is None else body,
        content_type="application/json",
        headers={
            "X-Pipeline-Timestamp": timestamp or headers["X-Pipeline-Timestamp"],
            "X-Pipeline-Signature": signature or headers["X-Pipeline-Signature"],
        },
    )


def reports(webhook) -> list[dict]:
    return [json.loads(body) for _, _, body in webhook.seen]


def switch_on(slug: str) -> tuple[Tenant, KubernetesSecrets, dict]:
    """The tenant with its switch on, the pipeline step applied: (tenant, its Secret, entry)."""
    tenant = TenantFactory(slug=slug, state=Tenant.State.READY, content_pipeline=True)
    spec = spec_for(tenant)
    store = KubernetesSecrets(spec)
    ctx = StepContext(spec=spec, secrets=store)
    NamespaceStep(ctx).apply()
    PipelineStep(ctx).apply()
    live = KubeApi(api_client()).read("v1", "Secret", "pipeline-targets", "content-pipeline")
    entry = json.loads(base64.b64decode(live["data"][f"{slug}.json"]))
    return tenant, store, entry


def pod_env(tenant: Tenant, store: KubernetesSecrets) -> dict[str, str]:
    """The WordPress container's environment as the kubelet would resolve it."""
    env = {}
    for var in environment(spec_for(tenant)):
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            value = store.get(var["valueFrom"]["secretKeyRef"]["key"])
            if value is not None:
                env[var["name"]] = value
    return env


def build_flow(hook_url: str, ai, settings, tmp_path, monkeypatch):
    """shop and acme switched on, their confirmations and reports going to `hook_url`; shop's
    site running; the pipeline reading both entries. Yields (pipeline, site, shop, targets)."""
    settings.PORTAL_PIPELINE_WEBHOOK_URL = hook_url
    KubeApi(api_client()).apply(
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "content-pipeline"}}
    )
    shop, shop_store, shop_entry = switch_on("shop")
    _, _, acme_entry = switch_on("acme")
    site = FakeWordPress(tmp_path / "shop", mu_plugins(INSTALL_SCRIPT), pod_env(shop, shop_store))
    site.start()
    # The in-cluster Service name resolves to the site (here: its loopback port).
    assert shop_entry["api_base_url"] == "http://wordpress.wp-shop.svc/wp-json/"
    targets = tmp_path / "targets"
    targets.mkdir()
    for slug, entry in (("shop", shop_entry), ("acme", acme_entry)):
        entry = {**entry, "api_base_url": f"{site.url}/wp-json/"} if slug == "shop" else entry
        (targets / f"{slug}.json").write_text(json.dumps(entry))
    monkeypatch.setenv("PIPELINE_TARGETS_DIR", str(targets))
    monkeypatch.setenv("IONOS_AI_ENDPOINT", f"{ai.url}/v1")
    monkeypatch.setenv("IONOS_AI_TOKEN", AI_TOKEN)
    # Reports the portal can't take are sent again after 50 ms, 100 ms, ... here.
    monkeypatch.setenv("PIPELINE_REPORT_BACKOFF", "0.05")
    pipeline = load_pipeline_module().Pipeline()
    yield pipeline, site, shop, targets
    pipeline.drain(10)
    site.stop()
    assert site.errors() == []


@pytest.fixture
def flow(kube_cluster, authentik_api, ai, webhook, settings, tmp_path, monkeypatch):
    """The flow with a recorder for the portal's webhook (the tests hand what it took on)."""
    yield from build_flow(f"{webhook.url}/hooks/pipeline/", ai, settings, tmp_path, monkeypatch)


def test_a_message_is_published_as_the_pipeline_and_confirmed_to_the_portal(
    flow, ai, webhook, authentik_api, client
):
    pipeline, site, shop, _ = flow
    assert {p["id"] for p in pipeline.pipelines()} == {"shop", "acme"}

    said = pipeline.pipe("Berlin's solar roofs, for the blog", "publish.shop", [], {})

    assert said == f"Published “{POST['title']}” to shop: {site.url}/?p=1"
    (post,) = site.posts
    # As the tenant's pipeline account (an author), published, with the AI's text.
    assert post["post_author"] == 2 and post["post_status"] == "publish"
    assert (post["post_title"], post["post_content"]) == (POST["title"], POST["content"])
    (_, _, asked) = ai.seen[0]
    assert json.loads(asked)["messages"][-1]["content"] == "Berlin's solar roofs, for the blog"
    # The site asked Authentik whether the token is its pipeline client's.
    assert ("POST", "/application/o/introspect/") in authentik_api.requests
    # The mu-plugin's confirmation, as it was sent, is taken by the portal's webhook.
    (confirmation,) = webhook.seen
    assert json.loads(confirmation[2]) == {
        "tenant": "shop",
        "post_id": 1,
        "title": POST["title"],
        "url": f"{site.url}/?p=1",
    }
    assert deliver(client, confirmation).status_code == 200
    shop.refresh_from_db()
    assert shop.pipeline_post == f"“{POST['title']}” (post 1) {site.url}/?p=1"


def test_a_token_of_another_tenants_client_is_not_let_in(flow, webhook):
    pipeline, site, _, targets = flow
    # acme's working credentials, pointed at shop's site.
    acme = json.loads((targets / "acme.json").read_text())
    shop = json.loads((targets / "shop.json").read_text())
    (targets / "acme.json").write_text(json.dumps({**acme, "api_base_url": shop["api_base_url"]}))

    said = pipeline.pipe("A post", "publish.acme", [], {})

    assert said == "Not published: the tenant's site answered 401 (rest_cannot_create)."
    assert site.posts == []
    # No confirmation; the pipeline's report of the refusal, for acme.
    assert reports(webhook) == [
        {
            "tenant": "acme",
            "error": {"reason": "site_refused", "status": 401, "code": "rest_cannot_create"},
        }
    ]


def test_the_token_opens_the_content_api_only(flow):
    pipeline, site, _, targets = flow
    token = pipeline._token(json.loads((targets / "shop.json").read_text()), fresh=True)
    bearer = {"Authorization": f"Bearer {token}"}
    me = requests.get(f"{site.url}/wp-json/wp/v2/settings", headers=bearer, timeout=5)
    assert me.status_code == 401
    forged = {"Authorization": "Bearer not-a-token-authentik-issued"}
    post = requests.post(f"{site.url}/wp-json/wp/v2/posts", json={}, headers=forged, timeout=5)
    assert post.status_code == 401


def test_the_token_opens_only_what_wordpress_dispatches_as_a_content_route(flow):
    pipeline, site, _, targets = flow
    token = pipeline._token(json.loads((targets / "shop.json").read_text()), fresh=True)
    bearer = {"Authorization": f"Bearer {token}"}

    def call(method, path, headers=None, **kw):
        headers = {**bearer, **(headers or {})}
        url = site.url + path
        kw = {"headers": headers, "timeout": 5, "allow_redirects": False, **kw}
        return requests.request(method, url, **kw)

    def published(path):
        return call("POST", path, json={"title": "T", "content": "c", "status": "draft"})

    # The content routes, however WordPress is asked for them (pretty or plain permalinks).
    assert published("/wp-json/wp/v2/posts").status_code == 201
    assert published("/wp-json/wp/v2/posts/").status_code == 201
    assert published("/?rest_route=/wp/v2/posts").status_code == 201
    assert published("/index.php?rest_route=%2Fwp%2Fv2%2Fposts").status_code == 201
    assert [p["post_author"] for p in site.posts] == [2, 2, 2, 2]
    # A content route anywhere in the query string opens no other route.
    assert call("GET", "/wp-json/wp/v2/users?x=/wp/v2/posts").status_code == 401
    assert call("GET", "/wp-json/wp/v2/users/me?x=/mcp/").status_code == 401
    assert call("GET", "/?rest_route=/wp/v2/users&x=/wp/v2/posts").status_code == 401
    # WordPress takes rest_route over the path: the path's route is not the one served.
    assert call("POST", "/wp-json/wp/v2/posts?rest_route=/wp/v2/settings").status_code == 401
    form = {"rest_route": "/wp/v2/settings"}
    assert call("POST", "/wp-json/wp/v2/posts", data=form).status_code == 401
    # Not REST at all: wp-admin, the login page, a front page sign in nobody by the token.
    login = {"location": "/wp-login.php"}
    assert call("GET", "/wp-admin/?rest_route=/wp/v2/posts").json() == login
    assert call("POST", "/wp-admin/admin-ajax.php?rest_route=/wp/v2/posts").json() == login
    assert call("GET", "/wp-admin/wp/v2/posts").json() == login
    assert call("GET", "/?p=1&x=/wp-json/wp/v2/posts").json()["user"] is None
    # An allowed route with a method it doesn't allow, however the method is said.
    assert call("POST", "/wp-json/wp/v2/posts/1?_method=DELETE").status_code == 401
    override = {"X-HTTP-Method-Override": "DELETE"}
    assert call("POST", "/wp-json/wp/v2/posts/1", headers=override).status_code == 401
    assert call("DELETE", "/wp-json/wp/v2/posts/1").status_code == 401
    assert len(site.posts) == 4
    # The same requests signed in by cookie: the site serves them (the refusals above were the
    # token's, not routes the fake lacks).
    person = {"Authorization": "", "X-Test-User": "1"}
    assert call("GET", "/wp-json/wp/v2/users?x=/wp/v2/posts", headers=person).status_code == 200
    assert call("GET", "/wp-admin/?rest_route=/wp/v2/posts", headers=person).json() == {
        "dashboard": "admin"
    }
    assert call("DELETE", "/wp-json/wp/v2/posts/1", headers=person).status_code == 200


def test_the_signed_in_pipeline_reaches_no_other_route_inside_its_request():
    """An embed or a batch dispatches further routes in the same request: each is checked."""
    plugin = mu_plugins(INSTALL_SCRIPT)["portal-pipeline.php"]
    code = f"""
eval('?>' . {php_string(plugin)});
$seen = [];
foreach ([false, true] as $signed_in) {{
    $GLOBALS['portal_pipeline_signed_in'] = $signed_in;
    foreach ([['GET', '/wp/v2/users/2'], ['POST', '/wp/v2/batch'], ['POST', '/wp/v2/posts'],
              ['GET', '/wp/v2/tags'], ['DELETE', '/wp/v2/posts/1'], ['POST', "/wp/v2/posts\n"],
              ['PATCH', '/WP/V2/POSTS/7'], ['POST', '/wp/v2/posts/7/revisions']] as [$m, $r]) {{
        $request = new WP_REST_Request($m, $r);
        $out = apply_filters('rest_request_before_callbacks', null, [], $request);
        $seen[] = is_wp_error($out) ? $out->data['status'] : 'served';
    }}
}}
echo json_encode($seen);
"""
    served = ["served"] * 8
    refused = [403, 403, "served", "served", 403, 403, "served", 403]
    assert json.loads(run_php(code, {})) == served + refused


def test_only_the_pipelines_publications_are_confirmed(flow, webhook):
    _, site, _, _ = flow
    person = {"X-Test-User": "3"}  # signed in as olivia, an editor
    data = {"title": "By hand", "content": "x", "status": "publish"}
    answer = requests.post(f"{site.url}/wp-json/wp/v2/posts", json=data, headers=person, timeout=5)
    assert answer.status_code == 201
    assert webhook.seen == []


def test_open_webuis_own_tasks_publish_nothing(flow, ai):
    pipeline, site, _, _ = flow
    assert pipeline.pipe("### Task:\nGenerate a title", "publish.shop", [], {}) == ""
    assert pipeline.pipe("x", "publish.shop", [], {"metadata": {"task": "tags_generation"}}) == ""
    assert site.posts == [] and ai.seen == []


def test_a_tenant_switched_off_is_no_target(flow, webhook):
    pipeline, site, _, targets = flow
    (targets / "shop.json").unlink()  # the portal removed its key from the Secret
    assert [p["id"] for p in pipeline.pipelines()] == ["acme"]
    said = pipeline.pipe("A post", "publish.shop", [], {})
    assert said == "Not published: tenant shop has the content pipeline switched off."
    assert pipeline.pipe("A post", "publish.../etc", [], {}).startswith("Not published:")
    assert site.posts == []
    assert webhook.seen == []  # no tenant of the portal's to report to


def test_every_failure_on_the_way_is_said_plainly(flow, ai, authentik_api, webhook):
    pipeline, site, _, targets = flow
    entry = json.loads((targets / "shop.json").read_text())
    (targets / "shop.json").write_text(json.dumps({**entry, "password": "revoked"}))
    assert pipeline.pipe("A post", "publish.shop", [], {}) == (
        "Not published: Authentik refused the tenant's credentials (invalid_grant)."
    )
    pipeline.ai_token = "wrong"
    assert pipeline.pipe("A post", "publish.shop", [], {}) == (
        "Not published: the AI endpoint answered 401."
    )
    pipeline.ai_endpoint = "http://127.0.0.1:9"
    said = pipeline.pipe("A post", "publish.shop", [], {})
    assert said == "Not published: the AI endpoint can't be reached (ConnectionError)."
    assert site.posts == []
    assert keys.PIPELINE_APP_PASSWORD not in said
    # Each reported to the portal: a reason, a status, a code; not the text, not a credential.
    assert [r["error"] for r in reports(webhook)] == [
        {"reason": "token_refused", "status": 400, "code": "invalid_grant"},
        {"reason": "ai_refused", "status": 401},
        {"reason": "ai_unreachable", "code": "ConnectionError"},
    ]
    sent = b"".join(body for _, _, body in webhook.seen).decode()
    for secret in ("A post", "revoked", entry["password"], "wrong"):
        assert secret not in sent
    # A portal that can't be reached changes nothing of what the chat is told.
    (targets / "shop.json").write_text(json.dumps({**entry, "report_url": "http://127.0.0.1:9/"}))
    assert pipeline.pipe("A post", "publish.shop", [], {}) == said
    assert len(webhook.seen) == 3


def test_a_failed_publication_shows_on_the_tenant_page_until_one_succeeds(flow, webhook, client):
    pipeline, site, shop, targets = flow
    entry = json.loads((targets / "shop.json").read_text())
    (targets / "shop.json").write_text(json.dumps({**entry, "password": "revoked"}))
    pipeline.pipe("Berlin's solar roofs, for the blog", "publish.shop", [], {})
    (report,) = webhook.seen

    assert deliver(client, report).status_code == 200

    shop.refresh_from_db()
    message = "Authentik refused the tenant's credentials (HTTP 400, invalid_grant)"
    assert shop.pipeline_error == message
    event = AuditEvent.objects.get(action=AuditEvent.Action.TENANT_PIPELINE_FAILED)
    assert event.object_id == str(shop.pk) and event.message == f"publication failed: {message}"
    client.force_login(shop.owner)
    page = client.get(shop.get_absolute_url()).content.decode()
    shown = page.split('id="pipeline-error">', 1)[1].split("</dd>", 1)[0]
    assert shop.pipeline_error_at.strftime("%Y-%m-%d %H:%M") in shown
    assert message.replace("'", "&#x27;") in shown

    # The credentials work again: the next publication's confirmation clears the error.
    (targets / "shop.json").write_text(json.dumps(entry))
    webhook.seen.clear()
    assert pipeline.pipe("Berlin's solar roofs", "publish.shop", [], {}).startswith("Published")
    (confirmation,) = webhook.seen
    assert deliver(client, confirmation).status_code == 200
    shop.refresh_from_db()
    assert (shop.pipeline_error, shop.pipeline_error_at) == ("", None)
    page = client.get(shop.get_absolute_url()).content.decode()
    assert 'id="pipeline-error"><span class="muted">none</span>' in page


def test_a_forged_or_replayed_error_report_is_refused(flow, webhook, client):
    pipeline, _, shop, targets = flow
    pipeline.ai_token = "wrong"
    pipeline.pipe("A post", "publish.shop", [], {})
    (report,) = webhook.seen
    _, headers, body = report
    stamp = headers["X-Pipeline-Timestamp"]
    # The signed body changed (another tenant, another reason): the signature doesn't fit.
    assert deliver(client, report, body=body.replace(b'"shop"', b'"acme"')).status_code == 401
    assert deliver(client, report, body=body.replace(b"ai_refused", b"ai_unset")).status_code == 401
    # Signed with the site's key, which signs confirmations only.
    site_key = KubernetesSecrets(spec_for(shop)).get(keys.PIPELINE_WEBHOOK_SECRET)
    assert deliver(client, report, signature=sign(site_key, stamp, body)).status_code == 401
    # Signed right but an hour old.
    old = str(int(time.time()) - 3600)
    key = json.loads((targets / "shop.json").read_text())["report_key"]
    assert deliver(client, report, timestamp=old, signature=sign(key, old, body)).status_code == 401
    shop.refresh_from_db()
    assert shop.pipeline_error == ""

    assert deliver(client, report).status_code == 200
    assert deliver(client, report).status_code == 409  # replayed

    shop.refresh_from_db()
    assert shop.pipeline_error == "The AI endpoint refused the request (HTTP 401)"
    assert AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_PIPELINE_FAILED).count() == 1


def test_the_models_answer_needs_a_title_and_content():
    module = load_pipeline_module()
    assert module._draft('{"title": "T", "content": "<p>c</p>"}') == {
        "title": "T",
        "content": "<p>c</p>",
    }
    for said in ("no json here", '{"title": ""}', '{"title": "T", "content": " "}', "{oops}"):
        with pytest.raises(module.PublishError):
            module._draft(said)


def test_the_deployment_runs_this_code():
    from tests.deploy.render import render

    apps = render(REPO / "deploy" / "platform" / "apps")
    (code,) = [
        m for m in apps if m["kind"] == "ConfigMap" and "pipeline-code" in m["metadata"]["name"]
    ]
    assert code["data"]["publish.py"] == CODE.read_text()
    # Pipelines reads the leading docstring's "key: value" lines and pip-installs a
    # `requirements` one at start-up, from the internet: the code needs none.
    docstring = CODE.read_text().split('"""')[1]
    keys = {line.split(":", 1)[0].strip().lower() for line in docstring.splitlines() if ":" in line}
    assert "requirements" not in keys
    (deployment,) = [
        m for m in apps if m["kind"] == "Deployment" and m["metadata"]["name"] == "pipeline"
    ]
    pod = deployment["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["code"]["configMap"]["name"] == code["metadata"]["name"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts[f"{env['PIPELINES_DIR']}/publish.py"]["name"] == "code"
    assert mounts[env["PIPELINES_DIR"]]["name"] == "pipelines"  # writable: valves.json
    assert mounts[env["PIPELINE_TARGETS_DIR"]]["name"] == "targets"
