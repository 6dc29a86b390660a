"""Start and steer the loopback OpenID Connect provider of server.js (npm oidc-provider)."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class FakeOidc:
    """A running provider: its issuer URL and the control of who signs in next."""

    process: subprocess.Popen
    issuer: str
    base: str

    @property
    def server_url(self) -> str:
        # As the portal is configured: the issuer without its trailing slash.
        return self.issuer.rstrip("/")

    def sign_in_as(
        self,
        sub: str,
        *,
        groups: list[str] = (),
        name: str = "",
        email: str = "",
        id_token: dict | None = None,
    ) -> None:
        """The next logins are this user; id_token claims (iss, exp, nonce) override the signed
        ones, and a claim set to None is left out of the ID token."""
        user = {
            "sub": sub,
            "preferred_username": sub,
            "email": email or f"{sub}@example.org",
            "name": name or sub.title(),
            "groups": list(groups),
        }
        body = {"user": user, "id_token": id_token or {}}
        requests.post(f"{self.base}/_fake/login", json=body, timeout=5).raise_for_status()

    def issued_id_tokens(self) -> list[str]:
        """Every ID token the token endpoint handed out so far, oldest first, as sent."""
        response = requests.get(f"{self.base}/_fake/id_tokens", timeout=5)
        response.raise_for_status()
        return response.json()

    def stop(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()  # server.js exits when its stdin ends
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(*, slug: str, clients: list[dict]) -> FakeOidc:
    """Run server.js on a free loopback port; fails clearly if npm ci was not run."""
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        raise RuntimeError(f"Run `npm ci --prefix {HERE}` first (scripts/test.sh does).")
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("Node.js is needed for the fake OpenID Connect provider.")
    port = free_port()
    env = {
        **os.environ,
        "FAKE_OIDC_CONFIG": json.dumps({"port": port, "slug": slug, "clients": clients}),
    }
    # A file, not a pipe: node's warnings must never fill a pipe nobody reads.
    errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (lives as long as the process)
    process = subprocess.Popen(
        [node, str(HERE / "server.js")],
        cwd=HERE,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    line = process.stdout.readline().strip()  # "listening <issuer>" once it accepts connections
    if not line.startswith("listening "):
        process.kill()
        errors.seek(0)
        raise RuntimeError(f"The fake OpenID Connect provider did not start: {errors.read()}")
    return FakeOidc(process=process, issuer=line.split(" ", 1)[1], base=f"http://127.0.0.1:{port}")
