"""A stand-in kubelet for the files Jobs: runs their script on this host, then sets their status."""

import base64
import subprocess
import threading
from pathlib import Path

from provisioning.manifests.files import COMPONENT_FILES
from provisioning.secrets import SECRET_NAME


class FilesJobRunner:
    """Each new files Job on the fake cluster: its container's own command, with its env (the
    Secret's keys resolved as the kubelet would) and its volume mounts mapped to folders here;
    Complete when it exits 0, Failed otherwise, as the Job controller would say. With `hold`,
    each waits for that event first: a test acts while a Job is under way (`.started` says so)."""

    def __init__(
        self,
        fake,
        volume: Path | dict[str, Path],
        work: Path,
        fail: bool = False,
        hold: threading.Event | None = None,
    ):
        # One folder for every namespace, or one per namespace (a tenant and its clone).
        self.fake, self.volume, self.work, self.fail = fake, volume, work, fail
        self.hold, self.started = hold, threading.Event()
        self.ran: list[dict] = []
        self.outputs: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> "FilesJobRunner":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.wait(0.05):
            with self.fake.lock:
                jobs = [
                    (key, obj)
                    for key, obj in self.fake.objects.items()
                    if obj["kind"] == "Job"
                    and obj["metadata"]["labels"].get("app.kubernetes.io/component")
                    == COMPONENT_FILES
                    and not obj.get("status", {}).get("conditions")
                ]
            for key, job in jobs:
                self._run(key, job)

    def _env(self, namespace: str, container: dict) -> dict[str, str]:
        secret = self.fake.get("Secret", SECRET_NAME, namespace) or {}
        data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
        env = {"PATH": "/usr/bin:/bin"}
        for item in container["env"]:
            if "value" in item:
                env[item["name"]] = item["value"]
            else:
                env[item["name"]] = data[item["valueFrom"]["secretKeyRef"]["key"]]
        volume = self.volume[namespace] if isinstance(self.volume, dict) else self.volume
        env["CONTENT_DIR"], env["WORK_DIR"] = str(volume), str(self.work)
        return env

    def _run(self, key, job: dict) -> None:
        self.ran.append(job)
        self.started.set()
        if self.hold is not None:
            self.hold.wait(timeout=60)  # the test's release, or it gave up on its own
        container = job["spec"]["template"]["spec"]["containers"][0]
        done = subprocess.run(  # noqa: S603  (the Job's own command)
            container["command"],
            env=self._env(key[2], container),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        self.outputs.append(done.stdout + done.stderr)
        with self.fake.lock:
            obj = self.fake.objects.get(key)
            if obj is None:
                return
            if done.returncode == 0 and not self.fail:
                obj["status"] = {
                    "succeeded": 1,
                    "conditions": [{"type": "Complete", "status": "True"}],
                }
            else:
                message = (done.stderr.strip().splitlines() or ["exit 1"])[-1]
                obj["status"] = {
                    "failed": 1,
                    "conditions": [
                        {
                            "type": "Failed",
                            "status": "True",
                            "reason": "BackoffLimitExceeded",
                            "message": f"Job has reached the specified backoff limit ({message})",
                        }
                    ],
                }
