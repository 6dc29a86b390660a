"""Run the portal's mu-plugins under real PHP: a tenant WordPress stand-in on loopback."""

import json
import shutil
import socket
import subprocess
import time
from pathlib import Path

import requests

ROUTER = Path(__file__).resolve().parent / "router.php"
STUBS = ROUTER.with_name("stubs.php")
# The site's users: the install's admin, the pipeline's author account, a person.
USERS = [
    {"ID": 1, "login": "admin", "role": "administrator"},
    {"ID": 2, "login": "content-pipeline", "role": "author"},
    {"ID": 3, "login": "olivia", "role": "editor"},
]


def php() -> str:
    found = shutil.which("php")
    assert found, "php is missing: scripts/test.sh installs Debian's php-cli"
    return found


def mu_plugins(install_script: str) -> dict[str, str]:
    """file name -> PHP of every mu-plugin the install Job's script writes (cat > ... <<'PHP')."""
    found = {}
    for chunk in install_script.split("cat > wp-content/mu-plugins/")[1:]:
        name, rest = chunk.split(" <<'PHP'\n", 1)
        found[name] = rest.split("\nPHP\n", 1)[0] + "\n"
    return found


def php_string(text: str) -> str:
    """`text` as a single-quoted PHP literal (no interpolation of `$`)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def run_php(code: str, env: dict[str, str]) -> str:
    """What `code` prints, run by the PHP CLI after stubs.php with exactly `env` as environment
    (getenv() sees it as a pod's PHP does)."""
    script = f"<?php require {str(STUBS)!r};\n{code}\n"
    done = subprocess.run(
        [php(), "-d", "variables_order=EGPCS", "-d", "display_errors=stderr"],
        input=script,
        env={**env, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0 and not done.stderr, done.stderr or done.stdout
    return done.stdout


class FakeWordPress:
    """PHP's built-in server with router.php, the given mu-plugins and the pod's environment."""

    def __init__(self, folder: Path, plugins: dict[str, str], env: dict[str, str]):
        self.folder = folder
        (folder / "mu-plugins").mkdir(parents=True)
        for name, code in plugins.items():
            (folder / "mu-plugins" / name).write_text(code)
        self.state_file = folder / "state.json"
        self.state_file.write_text(json.dumps({"users": USERS, "posts": []}))
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        self.env = {
            **env,
            "WP_URL": self.url,
            "WP_STATE": str(self.state_file),
            "PORTAL_MU_PLUGINS": str(folder / "mu-plugins"),
            "PATH": "/usr/bin:/bin",
        }
        self.log = folder / "php.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> "FakeWordPress":
        # -d variables_order=EGPCS: getenv() and $_ENV see the pod's environment, as in the image.
        self.process = subprocess.Popen(
            [php(), "-d", "variables_order=EGPCS", "-S", self.url[7:], str(ROUTER)],
            env=self.env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                requests.get(self.url, timeout=1)
                return self
            except requests.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError(f"php -S did not start: {self.log.read_text()}")

    def stop(self) -> None:
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=5)

    @property
    def posts(self) -> list[dict]:
        return json.loads(self.state_file.read_text())["posts"]

    def errors(self) -> list[str]:
        """PHP's warnings and errors so far (the built-in server logs requests too)."""
        lines = self.log.read_text().splitlines()
        kinds = ("PHP Warning", "PHP Notice", "PHP Deprecated", "PHP Fatal", "PHP Parse")
        return [line for line in lines if any(kind in line for kind in kinds)]
