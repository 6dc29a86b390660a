"""The teardown report: what each step's destroy removed, kept in the deletion's audit record."""

from provisioning.models import Run, StepRun
from provisioning.steps import step_classes

# What a step's status means in a teardown, for auditors.
SAID = {
    StepRun.Status.CHANGED: "removed",
    StepRun.Status.UNCHANGED: "nothing to remove",
    StepRun.Status.PLANNED: "planned only (plan mode): nothing outside was removed",
}


def _last_line(log: str) -> str:
    lines = [line for line in log.splitlines() if line.strip()]
    if not lines:
        return ""
    stamp, _, text = lines[-1].partition(" ")
    return text if stamp.count(":") == 2 else lines[-1]


def teardown_report(run: Run) -> list[dict]:
    """Per step of a finished destroy, in teardown order: the outside system, whether its
    objects went, and what the step said it removed (its destroy's last word)."""
    titles = {cls.name: cls.title for cls in step_classes()}
    rows = run.steps.order_by("position")  # a destroy numbers its steps as it goes
    return [
        {
            "step": row.name,
            "system": titles.get(row.name, row.name),
            "outcome": SAID.get(row.status, row.get_status_display().lower()),
            "removed": _last_line(row.log)[:300],
        }
        for row in rows
    ]
