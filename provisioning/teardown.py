"""The teardown report: what each step's destroy removed and what a look-up found of it
afterwards, kept in the deletion's audit record."""

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


def _said(row: StepRun) -> str:
    """The destroy's own words: its log's last line before the look-ups' lines."""
    looked = {f"{item['object']}: {item['result']}" for item in row.checks}
    kept = [line for line in row.log.splitlines() if line.partition(" ")[2] not in looked]
    return _last_line("\n".join(kept))


def teardown_report(run: Run) -> list[dict]:
    """Per step of a finished destroy, in teardown order: the outside system, whether its
    objects went, what the step said it removed (its destroy's last word), and each object it
    removed as a look-up afterwards found it ("checked gone", or "still there: …" for one of
    that name the teardown left alone as not the tenant's)."""
    titles = {cls.name: cls.title for cls in step_classes()}
    rows = run.steps.order_by("position")  # a destroy numbers its steps as it goes
    return [
        {
            "step": row.name,
            "system": titles.get(row.name, row.name),
            "outcome": SAID.get(row.status, row.get_status_display().lower()),
            "removed": _said(row)[:300],
            # A plan removed nothing outside, so nothing was looked up (None: no column).
            "checked": None if row.status == StepRun.Status.PLANNED else row.checks,
        }
        for row in rows
    ]
