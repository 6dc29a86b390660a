"""What every step is: check / apply / destroy on one outside resource, or a plan of it."""

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from django.conf import settings

from provisioning.secrets import SecretStore
from provisioning.spec import TenantSpec


@dataclass(frozen=True)
class Outcome:
    """How apply or destroy ended: done, planned (plan mode) or waiting on something outside."""

    status: str
    message: str = ""
    # Waiting on something just started whose like took this long (a Job after another of the
    # same image): when it is likely done. None: the engine's own pace (engine.wait_delay).
    look_in: float | None = None

    DONE: ClassVar[str] = "done"
    PLANNED: ClassVar[str] = "planned"
    WAITING: ClassVar[str] = "waiting"

    @classmethod
    def done(cls, message: str = "") -> "Outcome":
        return cls(cls.DONE, message)

    @classmethod
    def planned(cls, message: str = "") -> "Outcome":
        return cls(cls.PLANNED, message)

    @classmethod
    def waiting(cls, message: str, look_in: float | None = None) -> "Outcome":
        return cls(cls.WAITING, message, look_in)


@dataclass(frozen=True)
class Looked:
    """One outside object a teardown removed, looked up again afterwards: `found` is what the
    look-up still found of it (empty: nothing), `ours` False for an object of that name that
    never carried the tenant's marker, which the teardown leaves alone."""

    what: str
    found: str = ""
    ours: bool = True

    @property
    def still_there(self) -> bool:
        """True when the tenant's own object outlived its removal."""
        return bool(self.found) and self.ours

    @property
    def result(self) -> str:
        if not self.found:
            return "checked gone"
        return f"still there: {self.found}" + (
            "" if self.ours else " (not the tenant's: left alone)"
        )

    def as_dict(self) -> dict:
        return {"object": self.what, "result": self.result}


@dataclass
class StepContext:
    spec: TenantSpec
    secrets: SecretStore
    log: Callable[[str], None] = field(default=lambda message: None)
    plan_dir: Path | None = None
    # What one pass's steps learnt of the outside systems, for the steps after them in the
    # same pass: the engine hands every step of a pass the same dict, new each pass. None (a
    # step run by hand, a test): each check, apply or settle learns afresh.
    shared: dict | None = None

    def plan_path(self, step_name: str, suffix: str) -> Path:
        base = self.plan_dir or settings.PORTAL_PLAN_DIR
        return Path(base) / self.spec.slug / f"{step_name}.{suffix}"


class Step:
    """One kind of outside resource of a tenant.

    Subclasses give `render()` (the plan: exactly what would be applied, secrets as
    <generated>) and, for the real system, `live_check()` / `live_apply()` / `live_destroy()`.
    When the system has no target configured (`driver()` returns None) the step runs in plan
    mode: the rendered plan is written under var/plan/<slug>/ instead.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    plan_suffix: ClassVar[str] = "yaml"

    def __init__(self, ctx: StepContext):
        self.ctx = ctx
        self.spec = ctx.spec
        self._driver = None
        self._driver_loaded = False

    # --- what subclasses provide ---------------------------------------------------------------

    def make_driver(self):
        """The driver for this step's outside system, or None for plan mode."""
        return None

    def render(self) -> str:
        raise NotImplementedError

    def live_check(self) -> list[str]:
        raise NotImplementedError

    def live_apply(self) -> Outcome:
        raise NotImplementedError

    def live_destroy(self) -> Outcome:
        raise NotImplementedError

    def live_gone(self) -> list[Looked]:
        """Each object the destroy removed, looked up afresh in its system. None of its own
        by default (a step whose objects go with the namespace)."""
        return []

    # --- the interface the engine calls ---------------------------------------------------------

    @property
    def driver(self):
        if not self._driver_loaded:
            self._driver = self.make_driver()
            self._driver_loaded = True
        return self._driver

    @property
    def planning(self) -> bool:
        return self.driver is None

    @property
    def plan_file(self) -> Path:
        return self.ctx.plan_path(self.name, self.plan_suffix)

    def check(self) -> list[str]:
        """What differs between the desired and the actual resource; empty when it matches."""
        if self.planning:
            path = self.plan_file
            if not path.exists():
                return [f"plan {path.name} not written yet"]
            return [] if path.read_text() == self.render() else [f"plan {path.name} changed"]
        return self.live_check()

    def apply(self) -> Outcome:
        """Make the resource match; safe to call again at any time."""
        if self.planning:
            path = self.plan_file
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(self.render())
            tmp.replace(path)
            return Outcome.planned(f"plan written to {path}")
        return self.live_apply()

    def settle(self) -> Outcome:
        """Look again at what an apply that is waiting (a rollout, a Job) waits for; by
        default that is the apply itself, safe to call again."""
        return self.apply()

    def destroy(self) -> Outcome:
        """Remove the resource; one already gone counts as removed."""
        if self.planning:
            self.plan_file.unlink(missing_ok=True)
            with contextlib.suppress(OSError):  # other steps' plans may still be there
                self.plan_file.parent.rmdir()
            return Outcome.planned("plan removed")
        return self.live_destroy()

    def gone(self) -> list[Looked]:
        """After a destroy: what a look-up finds of each object it removed (plan mode: none
        was made, none is looked up)."""
        return [] if self.planning else self.live_gone()
