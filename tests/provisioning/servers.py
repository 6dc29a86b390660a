"""Redis and MariaDB instances of a drill's own, on free loopback ports, to kill and restart."""

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pymysql
import redis


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """A server process; kill() is a crash (SIGKILL), start() brings it back on the same data."""

    def __init__(self, folder: Path, name: str):
        self.folder, self.name = folder, name
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self._log = (folder / f"{name}.log").open("ab")

    def command(self) -> list[str]:
        raise NotImplementedError

    def ready(self) -> bool:
        raise NotImplementedError

    def start(self, timeout: float = 30) -> None:
        self.proc = subprocess.Popen(
            self.command(), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.name} did not start; see {self._log.name}")
            time.sleep(0.1)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        self.kill()
        self._log.close()


class OwnRedis(Server):
    """Persisted as the platform's Redis is (appendonly, fsync every second)."""

    def command(self) -> list[str]:
        return [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
            str(self.folder), "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
        ]  # fmt: skip

    def ready(self) -> bool:
        try:
            return redis.Redis(port=self.port, socket_timeout=0.5).ping()
        except redis.RedisError:
            return False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class OwnMariaDB(Server):
    """A fresh data directory; root without a password on loopback, like the shared one."""

    def __init__(self, folder: Path, name: str = "mariadb"):
        super().__init__(folder, name)
        self.data = folder / "mariadb-data"
        subprocess.run(
            [
                "mariadb-install-db", "--no-defaults", f"--datadir={self.data}",
                "--auth-root-authentication-method=normal", "--skip-test-db", "--user=root",
            ],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip

    def command(self) -> list[str]:
        return [
            "mariadbd", "--no-defaults", f"--datadir={self.data}", f"--port={self.port}",
            "--bind-address=127.0.0.1", f"--socket={self.folder / 'mariadb.sock'}",
            "--user=root", "--skip-log-bin", "--innodb-buffer-pool-size=32M",
        ]  # fmt: skip

    def ready(self) -> bool:
        try:
            pymysql.connect(
                host="127.0.0.1", port=self.port, user="root", connect_timeout=1
            ).close()
            return True
        except pymysql.err.OperationalError:
            return False

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.port}/"
