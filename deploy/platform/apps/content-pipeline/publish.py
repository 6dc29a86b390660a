"""Open WebUI Pipelines manifold: writes a post from the chat and publishes it to a tenant.

Loaded by the pipeline service (ghcr.io/open-webui/pipelines, which imports every .py of
PIPELINES_DIR and calls Pipeline.pipe synchronously). One model per tenant whose entry is in the
targets Secret the portal keeps (mounted at PIPELINE_TARGETS_DIR, one <slug>.json each; written
by provisioning/steps/pipeline.py): the text is turned into a post by the IONOS AI Model Hub's
OpenAI-compatible endpoint, the pipeline takes a token for the tenant's client from Authentik
(client_credentials with the tenant's service account and app password) and publishes through
the tenant's REST API; the tenant's WordPress then confirms to the portal's webhook. A failed
publication is reported to the same webhook (the entry's report_url), signed with the entry's
report_key, as a reason from a fixed list, an HTTP status and an error code: nothing of the text,
the post or the credentials. A report the portal can't take just now is sent again, as it was.
"""

import hashlib
import hmac
import json
import logging
import os
import random
import re
import threading
import time
from pathlib import Path

import requests

TIMEOUT = float(os.environ.get("PIPELINE_HTTP_TIMEOUT", "20"))
REPORT_TIMEOUT = 5.0
# A report the portal can't take just now (its web pods restarting: no connection, 502-504; its
# cluster unreadable: 503) is sent again in the background, the very request signed once: the
# portal takes a signature once (a repeat is 409, counted as delivered, so a report whose answer
# was lost is not recorded twice) and only while its timestamp is within the portal's tolerance
# (PORTAL_PIPELINE_WEBHOOK_TOLERANCE, 300 s by default): no attempt starts after REPORT_WINDOW.
REPORT_ATTEMPTS = int(os.environ.get("PIPELINE_REPORT_ATTEMPTS", "5"))
REPORT_BACKOFF = float(os.environ.get("PIPELINE_REPORT_BACKOFF", "1"))  # seconds, doubled
REPORT_WINDOW = 120.0
REPORT_AGAIN = frozenset({502, 503, 504})
# How long the service's shutdown waits for reports still being retried.
REPORT_DRAIN = 20.0
log = logging.getLogger(__name__)
SLUG = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Open WebUI asks the chat's model for titles, tags and follow-ups too: those are no posts.
TASK_PREFIX = "### Task:"
INSTRUCTIONS = (
    "You turn the user's text into a blog post for a WordPress site. Answer with one JSON "
    'object and nothing else: {"title": "<plain-text title>", "content": "<the post as simple '
    "HTML: <p>, <h2>, <ul>, <a>>\"}. Keep the user's language and facts; invent nothing."
)


class PublishError(Exception):
    """A step of the flow failed: the message says which, for the person in the chat; reason,
    status and code are what the portal is told (none: the chat's own doing, nothing to tell)."""

    def __init__(self, message: str, reason: str = "", status: int | None = None, code=""):
        super().__init__(message)
        self.reason, self.status, self.code = reason, status, code


class Pipeline:
    """The manifold: `pipelines()` lists the tenants, `pipe()` publishes to the chosen one."""

    def __init__(self):
        self.type = "manifold"
        self.id = "publish"
        self.name = "Publish to "
        self.targets_dir = Path(os.environ.get("PIPELINE_TARGETS_DIR", "/targets"))
        self.ai_endpoint = os.environ.get("IONOS_AI_ENDPOINT", "").rstrip("/")
        self.ai_token = os.environ.get("IONOS_AI_TOKEN", "")
        self.ai_model = os.environ.get("IONOS_AI_MODEL", "meta-llama/Llama-3.3-70B-Instruct")
        self._tokens: dict[str, tuple[str, float]] = {}  # slug -> (access token, good until)
        self._lock = threading.Lock()
        self._retrying: list[threading.Thread] = []  # reports being sent again

    # --- what Open WebUI lists ---------------------------------------------------------------

    def targets(self) -> dict[str, dict]:
        """slug -> entry, read afresh: the mounted Secret follows tenants switched on or off."""
        found = {}
        for path in sorted(self.targets_dir.glob("*.json")):
            try:
                entry = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # half-written by the kubelet's swap: next read has it
            if isinstance(entry, dict) and entry.get("tenant") == path.stem:
                found[path.stem] = entry
        return found

    def pipelines(self) -> list[dict]:
        return [
            {"id": slug, "name": entry.get("site_url") or slug}
            for slug, entry in self.targets().items()
        ]

    async def on_startup(self):
        return None

    async def on_shutdown(self):
        self.drain(REPORT_DRAIN)

    def drain(self, timeout: float) -> None:
        """Wait up to `timeout` seconds for the reports still being sent again."""
        deadline = time.monotonic() + timeout
        with self._lock:
            pending = list(self._retrying)
        for worker in pending:
            worker.join(max(0.0, deadline - time.monotonic()))

    # --- one message ---------------------------------------------------------------------------

    def pipe(self, user_message: str, model_id: str, messages: list[dict], body: dict) -> str:
        if _is_task(user_message, body):
            return ""
        slug = model_id.rsplit(".", 1)[-1]
        target = None
        try:
            target = self._target(slug)
            draft = self.compose(user_message)
            post = self.publish(target, draft)
        except PublishError as error:
            if target is not None and error.reason:
                self.report(target, error)
            return f"Not published: {error}"
        return f"Published “{draft['title']}” to {slug}: {post.get('link') or post['id']}"

    def _target(self, slug: str) -> dict:
        if not SLUG.match(slug):
            raise PublishError(f"{slug!r} is not a tenant.")
        target = self.targets().get(slug)
        if target is None:
            raise PublishError(f"tenant {slug} has the content pipeline switched off.")
        return target

    def report(self, target: dict, error: PublishError) -> None:
        """Tell the portal why nothing was published; the chat says it whatever the portal does.
        The first attempt is made before the chat is answered, any later one in the background."""
        url, key = target.get("report_url"), target.get("report_key")
        if not url or not key:
            return
        said = {"reason": error.reason}
        if error.status:
            said["status"] = error.status
        if error.code:
            said["code"] = error.code
        body = json.dumps({"tenant": target["tenant"], "error": said}).encode()
        stamp = int(time.time())
        mac = hmac.new(key.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json",
            "X-Pipeline-Timestamp": str(stamp),
            "X-Pipeline-Signature": f"sha256={mac}",
        }
        if _send_report(url, body, headers):
            return
        worker = threading.Thread(
            target=self._report_again, args=(url, body, headers, stamp), daemon=True
        )
        with self._lock:
            self._retrying = [t for t in self._retrying if t.is_alive()] + [worker]
        worker.start()

    def _report_again(self, url: str, body: bytes, headers: dict, stamp: int) -> None:
        for attempt in range(1, REPORT_ATTEMPTS):
            # Exponential, with jitter: the pipeline's reports held up by one outage of the
            # portal don't all come back at the same moment.
            delay = REPORT_BACKOFF * 2 ** (attempt - 1) * random.uniform(0.5, 1.0)  # noqa: S311
            if time.time() + delay - stamp > REPORT_WINDOW:
                break
            time.sleep(delay)
            if _send_report(url, body, headers):
                return
        log.warning("the portal could not be told; the report is dropped")

    def compose(self, text: str) -> dict[str, str]:
        """{"title", "content"} for the text, from the IONOS AI endpoint."""
        if not text.strip():
            raise PublishError("the message is empty.")
        if not self.ai_endpoint:
            raise PublishError("no AI endpoint is configured (IONOS_AI_ENDPOINT).", "ai_unset")
        try:
            answer = requests.post(
                f"{self.ai_endpoint}/chat/completions",
                headers={"Authorization": f"Bearer {self.ai_token}"},
                json={
                    "model": self.ai_model,
                    "messages": [
                        {"role": "system", "content": INSTRUCTIONS},
                        {"role": "user", "content": text},
                    ],
                    "temperature": 0.3,
                },
                timeout=TIMEOUT,
            )
        except requests.RequestException as error:
            name = type(error).__name__
            raise PublishError(
                f"the AI endpoint can't be reached ({name}).", "ai_unreachable", code=name
            ) from None
        if answer.status_code != 200:
            raise PublishError(
                f"the AI endpoint answered {answer.status_code}.", "ai_refused", answer.status_code
            )
        try:
            said = answer.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise PublishError(
                "the AI endpoint's answer is not a chat completion.", "ai_answer"
            ) from None
        return _draft(said)

    def publish(self, target: dict, draft: dict[str, str]) -> dict:
        """POST wp/v2/posts as the tenant's pipeline client; one new token if the old one died."""
        url = f"{target['api_base_url'].rstrip('/')}/wp/v2/posts"
        data = {"title": draft["title"], "content": draft["content"], "status": "publish"}
        for fresh in (False, True):
            token = self._token(target, fresh=fresh)
            try:
                answer = requests.post(
                    url,
                    headers={"Authorization": f"Bearer {token}"},
                    json=data,
                    timeout=TIMEOUT,
                )
            except requests.RequestException as error:
                name = type(error).__name__
                raise PublishError(
                    f"the tenant's site can't be reached ({name}).", "site_unreachable", code=name
                ) from None
            if answer.status_code == 401 and not fresh:
                continue  # revoked or expired early: once more with a new token
            break
        if answer.status_code != 201:
            code = _code(answer)
            raise PublishError(
                f"the tenant's site answered {answer.status_code}{_said(code)}.",
                "site_refused",
                answer.status_code,
                code,
            )
        try:
            return answer.json()
        except ValueError:
            raise PublishError(
                "the tenant's site answered 201 without the post.", "site_answer"
            ) from None

    def _token(self, target: dict, fresh: bool) -> str:
        slug = target["tenant"]
        with self._lock:
            cached = self._tokens.get(slug)
            if cached and not fresh and cached[1] > time.monotonic():
                return cached[0]
        form = {
            "grant_type": target["grant_type"],
            "client_id": target["client_id"],
            "username": target["username"],
            "password": target["password"],
        }
        try:
            answer = requests.post(target["token_url"], data=form, timeout=TIMEOUT)
        except requests.RequestException as error:
            name = type(error).__name__
            raise PublishError(
                f"Authentik can't be reached ({name}).", "token_unreachable", code=name
            ) from None
        if answer.status_code != 200:
            # The error code only: the answer may echo what was sent.
            code = _code(answer)
            raise PublishError(
                f"Authentik refused the tenant's credentials{_said(code)}.",
                "token_refused",
                answer.status_code,
                code,
            )
        try:
            grant = answer.json()
            token = grant["access_token"]
        except (ValueError, KeyError, TypeError):
            raise PublishError("Authentik's answer held no token.", "token_answer") from None
        lifetime = float(grant.get("expires_in") or 60)
        with self._lock:
            # Renewed a little early, so no token dies between here and the site.
            self._tokens[slug] = (token, time.monotonic() + lifetime * 0.9)
        return token


def _send_report(url: str, body: bytes, headers: dict) -> bool:
    """One attempt; False: the portal can't take it just now, the same request may go again."""
    try:
        answer = requests.post(url, data=body, headers=headers, timeout=REPORT_TIMEOUT)
    except (requests.ConnectionError, requests.Timeout) as failure:
        log.warning("the portal can't be told just now (%s)", type(failure).__name__)
        return False
    except requests.RequestException as failure:
        log.warning("the portal can't be told (%s)", type(failure).__name__)
        return True
    if answer.status_code in REPORT_AGAIN:
        log.warning("the portal can't take the report just now: %s", answer.status_code)
        return False
    # 409: taken before, by an attempt whose answer was lost.
    if answer.status_code not in (200, 409):
        log.warning("the portal refused the report: %s", answer.status_code)
    return True


def _is_task(user_message: str, body: dict) -> bool:
    metadata = body.get("metadata") or {}
    return bool(body.get("title") or metadata.get("task") or user_message.startswith(TASK_PREFIX))


def _draft(said: str) -> dict[str, str]:
    """The model's JSON object, also when it wrapped it in a code fence or a sentence."""
    start, end = said.find("{"), said.rfind("}")
    try:
        found = json.loads(said[start : end + 1]) if -1 < start < end else None
    except ValueError:
        found = None
    if not isinstance(found, dict):
        raise PublishError(
            "the AI endpoint wrote no post (no JSON object in its answer).", "ai_no_post"
        )
    title, content = str(found.get("title") or "").strip(), str(found.get("content") or "")
    if not title or not content.strip():
        raise PublishError("the AI endpoint's post lacks a title or content.", "ai_no_post")
    return {"title": title[:200], "content": content}


def _code(answer: requests.Response) -> str:
    """The answer's error code (rest_cannot_create, invalid_grant), if it has one of that form."""
    try:
        body = answer.json()
    except ValueError:
        return ""
    code = body.get("code") or body.get("error") if isinstance(body, dict) else None
    return code if isinstance(code, str) and re.fullmatch(r"[A-Za-z][\w.-]{0,39}", code) else ""


def _said(code: str) -> str:
    return f" ({code})" if code else ""
