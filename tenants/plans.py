"""What plan mode wrote for a tenant's steps, to read in the page instead of a server path."""

from pathlib import Path

from django.conf import settings

from provisioning.models import StepRun

LIMIT = 20_000  # characters shown of one plan; the file holds the rest


def plan_text(slug: str, step: str) -> str:
    """The step's plan file (secrets in it are <generated>, never values), or ""."""
    folder = Path(settings.PORTAL_PLAN_DIR) / slug
    for path in sorted(folder.glob(f"{step}.*")):
        if path.suffix == ".tmp" or not path.is_file():
            continue
        try:
            text = path.read_text(errors="replace")
        except OSError:
            return ""
        return text if len(text) <= LIMIT else text[:LIMIT] + "\n… (cut here; the file goes on)"
    return ""


def attach_plans(slug: str, steps: list[StepRun]) -> None:
    """Give each planned step its plan as `plan_text`, for the step table."""
    for step in steps:
        step.plan_text = plan_text(slug, step.name) if step.status == StepRun.Status.PLANNED else ""
