"""Confirmations and error reports the portal can't take at that moment are sent again, end to
end on loopback: the tenant's site (the mu-plugins under real PHP) and the pipeline's code send
to the portal itself (live_server) through a relay that records each request and can be down,
or lose the portal's answer; the portal's 503 is its own, its cluster refusing the tenant's
Secret. A retry is the very request (timestamp, signature, body), taken once: a repeat of one
recorded is a 409 the sender counts as delivered."""

import json
import logging
import time
from http.server import BaseHTTPRequestHandler

import pytest
import requests

from tenants.models import AuditEvent
from tests.deploy.test_publish_pipeline import POST, Recorder, build_flow, chat_completion
from tests.fakes.loopback import LoopbackServer

# The portal's own process serves the webhook: the rows it writes must be committed.
pytestmark = pytest.mark.django_db(transaction=True)
SECRET_READ = r"/api/v1/namespaces/wp-shop/secrets/"
REFUSED_AI = {"reason": "ai_refused", "status": 401}


class Relay(LoopbackServer):
    """The portal's address as the senders see it: each POST recorded, handed to the portal
    and its answer passed back, except the next `lose` answers (the connection is closed once
    the portal took the request, as a proxy's timeout would)."""

    def __init__(self, portal_url: str):
        self.seen: list[tuple[str, dict, bytes]] = []
        self.answers: list[int] = []
        self.lose = 0
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                return

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {
                    name: value
                    for name, value in self.headers.items()
                    if name.lower() == "content-type" or name.lower().startswith("x-pipeline-")
                }
                relay.seen.append((self.path, headers, body))
                url = portal_url + self.path
                answer = requests.post(url, data=body, headers=headers, timeout=10)
                relay.answers.append(answer.status_code)
                if relay.lose:
                    relay.lose -= 1
                    return  # no answer: HTTP/1.0, the connection closes
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

        self.listen(Handler)

    def requests_sent(self) -> set[tuple[str, str, bytes]]:
        """Each distinct request as (timestamp, signature, body)."""
        return {
            (h["X-Pipeline-Timestamp"], h["X-Pipeline-Signature"], body) for _, h, body in self.seen
        }


@pytest.fixture
def ai():
    with Recorder(chat_completion) as server:
        yield server


@pytest.fixture
def relay(live_server):
    with Relay(live_server.url) as server:
        yield server


@pytest.fixture
def live(kube_cluster, authentik_api, ai, relay, settings, tmp_path, monkeypatch):
    """The flow with the site and the pipeline sending to the portal through the relay; the
    portal's reads of the cluster are not retried (a refused read is its 503 at once)."""
    settings.PORTAL_REQUEST_RETRY_BUDGET = 0
    yield from build_flow(f"{relay.url}/hooks/pipeline/", ai, settings, tmp_path, monkeypatch)


def failures() -> int:
    return AuditEvent.objects.filter(action=AuditEvent.Action.TENANT_PIPELINE_FAILED).count()


def failing(pipeline) -> str:
    """A message the AI endpoint refuses: the pipeline reports ai_refused."""
    pipeline.ai_token = "wrong"
    said = pipeline.pipe("A post", "publish.shop", [], {})
    pipeline.drain(10)
    return said


# --- the pipeline's error reports ------------------------------------------------------------


def test_a_report_the_portal_cant_take_just_now_is_sent_again_as_it_was(live, relay, kube_cluster):
    pipeline, _, shop, _ = live
    kube_cluster.fail("GET", SECRET_READ, 503)  # the portal can't read the tenant's key once

    assert failing(pipeline) == "Not published: the AI endpoint answered 401."

    assert relay.answers == [503, 200]
    assert len(relay.requests_sent()) == 1  # the same timestamp, signature and body
    assert json.loads(relay.seen[0][2])["error"] == REFUSED_AI
    shop.refresh_from_db()
    assert shop.pipeline_error == "The AI endpoint refused the request (HTTP 401)"
    assert failures() == 1


def test_a_report_sent_while_the_portal_is_down_arrives_once_it_is_back(live, relay):
    pipeline, _, shop, _ = live
    relay.down()  # connections refused

    class BackOnFirstRefusal(logging.Handler):
        def emit(self, record):
            if "can't be told just now (ConnectionError)" in record.getMessage():
                logger.removeHandler(self)
                relay.up()

    logger = logging.getLogger("publish")  # the module's logger, as Pipelines loads it
    logger.addHandler(BackOnFirstRefusal())
    failing(pipeline)

    assert relay.answers == [200]
    shop.refresh_from_db()
    assert shop.pipeline_error == "The AI endpoint refused the request (HTTP 401)"


def test_a_report_whose_answer_was_lost_is_recorded_once(live, relay):
    pipeline, _, shop, _ = live
    relay.lose = 1  # the portal records it, the pipeline never hears so

    failing(pipeline)

    # Sent again as it was, refused as a replay, and that counts as delivered: no third try.
    assert relay.answers == [200, 409]
    assert len(relay.requests_sent()) == 1
    assert failures() == 1
    shop.refresh_from_db()
    assert shop.pipeline_error == "The AI endpoint refused the request (HTTP 401)"


def test_the_attempts_are_bounded(live, relay, kube_cluster):
    pipeline, _, shop, _ = live
    kube_cluster.fail("GET", SECRET_READ, 503, times=100)  # the portal never gets better
    failing(pipeline)
    assert relay.answers == [503] * 5  # PIPELINE_REPORT_ATTEMPTS' default
    assert len(relay.requests_sent()) == 1
    shop.refresh_from_db()
    assert shop.pipeline_error == "" and failures() == 0


def test_a_report_the_portal_refuses_is_sent_once(live, relay):
    pipeline, _, shop, targets = live
    entry = json.loads((targets / "shop.json").read_text())
    (targets / "shop.json").write_text(json.dumps({**entry, "report_key": "not-the-key"}))
    failing(pipeline)
    assert relay.answers == [401]
    shop.refresh_from_db()
    assert shop.pipeline_error == "" and failures() == 0


def test_no_attempt_starts_once_the_portal_would_find_the_timestamp_stale(live, relay):
    pipeline, _, _, _ = live
    stale = int(time.time()) - 200  # the portal's tolerance is 300 s; retries end at 120 s
    pipeline._report_again(f"{relay.url}/hooks/pipeline/", b"{}", {}, stale)
    assert relay.seen == []


# --- the site's confirmations ----------------------------------------------------------------


def published(pipeline) -> str:
    return pipeline.pipe("Berlin's solar roofs, for the blog", "publish.shop", [], {})


def test_a_confirmation_the_portal_cant_take_just_now_is_sent_again_as_it_was(
    live, relay, kube_cluster
):
    pipeline, site, shop, _ = live
    kube_cluster.fail("GET", SECRET_READ, 503)

    assert published(pipeline) == f"Published “{POST['title']}” to shop: {site.url}/?p=1"

    assert relay.answers == [503, 200]
    assert len(relay.requests_sent()) == 1
    shop.refresh_from_db()
    assert shop.pipeline_post == f"“{POST['title']}” (post 1) {site.url}/?p=1"


def test_a_confirmation_whose_answer_was_lost_is_recorded_once(live, relay):
    pipeline, site, shop, _ = live
    relay.lose = 1

    assert published(pipeline).startswith("Published")

    assert relay.answers == [200, 409]
    assert len(relay.requests_sent()) == 1
    shop.refresh_from_db()
    assert shop.pipeline_post.endswith(f"(post 1) {site.url}/?p=1")


def test_a_portal_that_stays_away_holds_the_publication_a_bounded_time(live, relay):
    pipeline, site, shop, _ = live
    relay.down()

    started = time.monotonic()
    assert published(pipeline).startswith("Published")
    took = time.monotonic() - started

    # Three attempts, 0.5 s and 1 s apart, then the site answers the pipeline all the same.
    assert 1.5 <= took < 12
    log = site.log.read_text()
    assert "the portal did not take the confirmation after 3 attempts (no answer)" in log
    assert len(site.posts) == 1
    shop.refresh_from_db()
    assert shop.pipeline_post == ""
