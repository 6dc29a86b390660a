"""`python -m bench.load`: simulated users request, approve and browse against gunicorn at once.

Issue 18's load target: 50 concurrent users for a minute, no 5xx, no duplicate tenant, every
audit event present, p99 reported. The portal runs under gunicorn with its production settings
(DEBUG off, the image's server) on a database of its own; each user is a thread with a signed-in
session of its own. Prints JSON, then a summary; exits 1 when a check fails.
"""

import argparse
import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
APPROVAL_LINK = re.compile(r'href="/tenants/approvals/(\d+)/"')
TENANT_LINK = re.compile(r'href="/tenants/(\d+)/"')


def parse(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--users", type=int, default=50, help="concurrent simulated users")
    parser.add_argument("--approvers", type=int, default=10, help="of them platform admins")
    parser.add_argument("--seconds", type=float, default=60, help="how long they keep going")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--cache-url", default="", help="PORTAL_CACHE_URL (default the table)")
    return parser.parse_args(argv)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def prepare_environment(tmp: Path, options) -> dict[str, str]:
    """The settings both this process and gunicorn use: production's, on a database of its own."""
    base = os.environ.get("DATABASE_URL", "postgres://postgres:postgres@127.0.0.1:5432/portal")
    parts = urlsplit(base)
    database = f"{parts.path.strip('/') or 'portal'}_load"
    env = {
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DATABASE_URL": urlunsplit(parts._replace(path=f"/{database}")),
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "DJANGO_DEBUG": "false",
        "DJANGO_EMAIL_URL": "dummymail://",  # every approver is mailed per request; not timed
        "PORTAL_VAR_DIR": str(tmp),  # the folder broker: approvals queue, nothing provisions
        "PORTAL_CACHE_URL": options.cache_url,
        # Each user files many requests; the per-person quota's 400 would be a refusal by
        # design, not load, so it is out of the way here (tests/tenants cover the quota).
        "PORTAL_MAX_TENANTS_PER_USER": "1000000",
    }
    os.environ.update(env)
    return env


def create_database(env: dict[str, str]) -> str:
    import psycopg

    parts = urlsplit(env["DATABASE_URL"])
    name = parts.path.strip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin


def drop_database(env: dict[str, str], admin: str) -> None:
    import psycopg

    name = urlsplit(env["DATABASE_URL"]).path.strip("/")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def signed_in_users(count: int, approvers: int) -> list[dict]:
    """Users with a session each (made here, as a sign-in would: no password hashing timed)."""
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.sessions.backends.db import SessionStore

    from portal.roles import Role, user_set_role

    users = []
    for n in range(count):
        role = Role.APPROVER if n < approvers else Role.REQUESTER
        user = get_user_model().objects.create_user(
            username=f"load-{role.value}-{n}", email=f"load{n}@example.com", password=None
        )
        user_set_role(user=user, role=role)
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        users.append({"name": user.username, "role": role.value, "session": session.session_key})
    return users


class Gunicorn:
    def __init__(self, env: dict[str, str], workers: int, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", "portal.wsgi:application",
                "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers),
            ],
            cwd=ROOT, env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 60) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"gunicorn exited; see {self._log.name}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise SystemExit("gunicorn did not answer /healthz")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self._log.close()


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (gunicorn's master and its workers), from /proc."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return [pid]
    return [pid, *(p for child in children for p in process_tree(int(child)))]


def process_figures(pid: int) -> dict:
    """Peak and current resident memory (MiB) and CPU seconds used, from /proc."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return {
        "peak_rss_mib": round(int(status["VmHWM"].split()[0]) / 1024, 1),
        "rss_mib": round(int(status["VmRSS"].split()[0]) / 1024, 1),
        "cpu_seconds": round((int(fields[11]) + int(fields[12])) / ticks, 1),
    }


class Recorder:
    """Every request's kind, status and seconds, from all threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rows: list[tuple[str, int, float]] = []
        self.filed: list[str] = []  # slugs the portal answered 302 to
        self.approved: list[int] = []  # tenant ids whose approval was answered "Approved"
        self.lost: list[int] = []  # approvals refused because another admin decided first
        self.errors: list[str] = []

    def add(self, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            self.rows.append((kind, status, seconds))


class User(threading.Thread):
    def __init__(self, spec: dict, base: str, plan_id: int, deadline: float, record: Recorder):
        super().__init__(daemon=True)
        import requests

        self.spec, self.base, self.plan_id = spec, base, plan_id
        self.deadline, self.record = deadline, record
        self.http = requests.Session()
        self.http.cookies.set("sessionid", spec["session"])
        self.rng = random.Random(spec["name"])  # noqa: S311  (a simulation, not a secret)

    def call(self, kind: str, method: str, path: str, **kwargs):
        started = time.perf_counter()
        try:
            response = self.http.request(
                method, self.base + path, allow_redirects=False, timeout=30, **kwargs
            )
        except Exception as exc:  # a refused or dropped connection counts as a failure too
            self.record.add(kind, 599, time.perf_counter() - started)
            with self.record.lock:
                self.record.errors.append(f"{kind} {path}: {exc}")
            return None
        self.record.add(kind, response.status_code, time.perf_counter() - started)
        return response

    def token(self, response) -> str:
        match = CSRF.search(response.text) if response is not None else None
        return match.group(1) if match else ""

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            if self.spec["role"] == "approver" and self.rng.random() < 0.7:
                self.approve_one()
            elif self.spec["role"] == "requester" and self.rng.random() < 0.3:
                self.file_one()
            else:
                self.browse()

    def browse(self) -> None:
        page = self.call("list", "GET", "/tenants/")
        ids = TENANT_LINK.findall(page.text) if page is not None and page.ok else []
        if ids:
            pk = self.rng.choice(ids)
            self.call("detail", "GET", f"/tenants/{pk}/")
            self.call("progress", "GET", f"/tenants/{pk}/progress/")

    def file_one(self) -> None:
        form = self.call("request form", "GET", "/tenants/new/")
        slug = f"l{uuid.uuid4().hex[:10]}"
        sent = self.call(
            "request",
            "POST",
            "/tenants/new/",
            data={
                "csrfmiddlewaretoken": self.token(form),
                "slug": slug,
                "display_name": f"Load {slug}",
                "plan": self.plan_id,
                "wordpress_version": "6.8",
                "admin_email": "owner@example.com",
            },
        )
        if sent is not None and sent.status_code == 302:
            with self.record.lock:
                self.record.filed.append(slug)
            self.call("detail", "GET", sent.headers["Location"])

    def approve_one(self) -> None:
        queue = self.call("approvals", "GET", "/tenants/approvals/")
        ids = APPROVAL_LINK.findall(queue.text) if queue is not None and queue.ok else []
        if not ids:
            return self.browse()
        pk = self.rng.choice(ids)
        page = self.call("approval", "GET", f"/tenants/approvals/{pk}/")
        if page is None or 'value="approve"' not in page.text:
            return None  # decided by another admin meanwhile, or this admin's own request
        sent = self.call(
            "approve",
            "POST",
            f"/tenants/approvals/{pk}/",
            data={"csrfmiddlewaretoken": self.token(page), "decision": "approve"},
        )
        if sent is None or sent.status_code != 302:
            return None
        # Refused (another admin was first): back to the request; approved: anywhere else.
        won = urlsplit(sent.headers["Location"]).path != f"/tenants/approvals/{pk}/"
        with self.record.lock:
            (self.record.approved if won else self.record.lost).append(int(pk))
        return None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def latency(rows) -> dict:
    seconds = [s for _, _, s in rows]
    return {
        "count": len(seconds),
        "p50_ms": round(statistics.median(seconds) * 1000, 1) if seconds else 0,
        "p99_ms": round(percentile(seconds, 0.99) * 1000, 1),
        "max_ms": round(max(seconds, default=0) * 1000, 1),
    }


def check(record: Recorder) -> tuple[dict, list[str]]:
    """What the database holds against what the users were told."""
    from tenants.models import AuditEvent, Tenant

    failures = []
    statuses = Counter(status for _, status, _ in record.rows)
    server_errors = sum(n for status, n in statuses.items() if status >= 500)
    if server_errors:
        failures.append(f"{server_errors} answers were 5xx (or no answer): {record.errors[:5]}")
    slugs = list(Tenant.objects.filter(slug__startswith="l").values_list("slug", flat=True))
    if sorted(slugs) != sorted(record.filed) or len(set(slugs)) != len(slugs):
        failures.append(f"{len(record.filed)} requests accepted but {len(slugs)} tenants exist")
    events = defaultdict(Counter)
    for action, object_id in AuditEvent.objects.filter(
        action__in=[AuditEvent.Action.TENANT_REQUESTED, AuditEvent.Action.TENANT_APPROVED]
    ).values_list("action", "object_id"):
        events[action][object_id] += 1
    ids = {
        str(pk) for pk in Tenant.objects.filter(slug__in=record.filed).values_list("pk", flat=True)
    }
    requested = events[AuditEvent.Action.TENANT_REQUESTED]
    if set(requested) != ids or set(requested.values()) - {1}:
        failures.append("a filed request has no tenant.requested event, or more than one")
    approved = events[AuditEvent.Action.TENANT_APPROVED]
    if sorted(int(pk) for pk in approved) != sorted(record.approved) or set(approved.values()) - {
        1
    }:
        failures.append(
            f"{len(record.approved)} approvals answered, tenant.approved events: {dict(approved)}"
        )
    if len(set(record.approved)) != len(record.approved):
        failures.append("a tenant was approved twice")
    by_kind = defaultdict(list)
    for row in record.rows:
        by_kind[row[0]].append(row)
    result = {
        "statuses": dict(sorted(statuses.items())),
        "tenants_filed": len(record.filed),
        "tenants_approved": len(record.approved),
        "approvals_refused_as_already_decided": len(record.lost),
        "audit_events": {action: sum(c.values()) for action, c in events.items()},
        "all": latency(record.rows),
        "by_kind": {kind: latency(rows) for kind, rows in sorted(by_kind.items())},
    }
    return result, failures


def main(argv=None) -> int:
    options = parse(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="portal-load-") as tmp:
        env = prepare_environment(Path(tmp), options)
        admin = create_database(env)
        try:
            import django

            django.setup()
            from django.core.management import call_command

            from tenants.models import Plan

            call_command("migrate", verbosity=0)
            users = signed_in_users(options.users, options.approvers)
            plan_id = Plan.objects.filter(is_active=True).order_by("pk").values_list("pk")[0][0]
            server = Gunicorn(env, options.workers, Path(tmp) / "gunicorn.log")
            try:
                server.wait_ready()
                record = Recorder()
                started = time.monotonic()
                deadline = started + options.seconds
                threads = [User(u, server.url, plan_id, deadline, record) for u in users]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                elapsed = time.monotonic() - started
                # What the web pod's resources are set from (deploy/portal/base/web.yaml).
                master, *workers = [process_figures(p) for p in process_tree(server.proc.pid)]
                served = {
                    "master": master,
                    "workers": workers,
                    "cpu_cores_busy": round(sum(w["cpu_seconds"] for w in workers) / elapsed, 2),
                }
            finally:
                server.stop()
            result, failures = check(record)
        finally:
            from django.db import connections

            connections.close_all()
            drop_database(env, admin)
    result = {
        "users": options.users,
        "approvers": options.approvers,
        "gunicorn_workers": options.workers,
        "seconds": round(elapsed, 1),
        "requests_per_second": round(len(record.rows) / elapsed, 1),
        "gunicorn": served,
        **result,
        "failures": failures,
    }
    print(json.dumps(result, indent=2))
    overall = result["all"]
    print(
        f"{options.users} users, {result['seconds']}s, {result['requests_per_second']} req/s: "
        f"p50 {overall['p50_ms']} ms, p99 {overall['p99_ms']} ms; {result['tenants_filed']} "
        f"filed, {result['tenants_approved']} approved; statuses {result['statuses']}; "
        + ("all checks passed" if not failures else "FAILED: " + "; ".join(failures)),
        file=sys.stderr,
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
