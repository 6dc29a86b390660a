"""A stand-in outside resource for engine tests: a file per tenant, a ledger of every create.

Tests steer it through a JSON control file (PORTAL_PROBE_DIR/control.json):
{"transient": 2} raises TransientError twice, {"fail": "why"} raises StepFailed,
{"hold": 30} holds apply for that many seconds after creating (a slow outside call),
{"delay": 1} waits that long before creating.
"""

import json
import os
import time
from pathlib import Path

from provisioning.errors import StepFailed, TransientError
from provisioning.steps.base import Outcome, Step


def probe_dir() -> Path:
    return Path(os.environ["PORTAL_PROBE_DIR"])


def _control() -> dict:
    path = probe_dir() / "control.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _consume(key: str) -> bool:
    """Take one unit of a counted fault; True if there was one left."""
    path = probe_dir() / "control.json"
    control = _control()
    if control.get(key, 0) > 0:
        control[key] -= 1
        path.write_text(json.dumps(control))
        return True
    return False


def ledger(name: str) -> list[dict]:
    path = probe_dir() / f"{name}.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def _note(name: str, **entry) -> None:
    with (probe_dir() / f"{name}.jsonl").open("a") as fh:
        fh.write(json.dumps({"pid": os.getpid(), "at": time.time(), **entry}) + "\n")


class ProbeStep(Step):
    """Owns one file per tenant in the probe directory."""

    name = "probe"
    title = "Probe"
    plan_suffix = "txt"

    def make_driver(self):
        return probe_dir()

    def render(self) -> str:
        return f"probe for {self.spec.slug} on plan {self.spec.plan.name}\n"

    def _path(self) -> Path:
        return self.driver / f"{self.spec.slug}.resource"

    def live_check(self) -> list[str]:
        _note("checks", tenant=self.spec.slug)
        if not self._path().exists():
            return ["resource missing"]
        if self._path().read_text() != self.render():
            return ["resource content differs"]
        return []

    def live_apply(self) -> Outcome:
        _note("spans", tenant=self.spec.slug, event="start")
        try:
            if _consume("transient"):
                raise TransientError("the probe service answered 503")
            if _control().get("fail"):
                raise StepFailed(_control()["fail"])
            time.sleep(_control().get("delay", 0))
            self._path().write_text(self.render())
            _note("creates", tenant=self.spec.slug)
            hold = _control().get("hold", 0)
            if hold:
                _note("holding", tenant=self.spec.slug)
                time.sleep(hold)
            return Outcome.done("probe resource written")
        finally:
            _note("spans", tenant=self.spec.slug, event="end")

    def live_destroy(self) -> Outcome:
        self._path().unlink(missing_ok=True)
        return Outcome.done("probe resource removed")
