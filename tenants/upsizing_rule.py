"""The usage rule: the next larger plan at once when the tenant's measured use shows the need."""

import math
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from tenants.models import Plan, Tenant, UsageSample
from tenants.usage import samples_in_window

LABELS = {
    "cpu": "CPU requests",
    "memory": "memory requests",
    "pods": "pods",
    "database": "database size (of the plan's storage)",
    "storage": "volume claims",
}
# What the rule weighs. Not the claims: a volume's claim asks for the plan's whole size from
# the start, so it stands at 100 % of the quota whatever the site keeps on it.
COUNTED = ("cpu", "memory", "pods", "database")


@dataclass(frozen=True)
class Measure:
    name: str
    average: int  # percent of the quota, over the window's samples
    peak: int

    @property
    def text(self) -> str:
        counted = "" if self.name in COUNTED else " (not counted: a claim asks for it all)"
        return f"{LABELS[self.name]}: {self.average} % on average, {self.peak} % at most{counted}"


def rule_text() -> str:
    return (
        f"The next larger plan is approved at once when one of CPU requests, memory requests, "
        f"pods or the database averaged {settings.PORTAL_UPSIZE_RULE_THRESHOLD} % or more of "
        f"the quota over the last {settings.PORTAL_UPSIZE_RULE_WINDOW_DAYS} days on the current "
        f"plan, with samples in at least {settings.PORTAL_UPSIZE_RULE_COVERAGE} % of them."
    )


def next_plan(plan: Plan) -> Plan | None:
    """The offered plan just above this one in the plans' order."""
    above = Q(sort_order__gt=plan.sort_order) | Q(sort_order=plan.sort_order, name__gt=plan.name)
    return Plan.objects.filter(above, is_active=True).order_by("sort_order", "name").first()


def _steps(plan: Plan, target: Plan) -> int:
    between = Q(sort_order__gt=plan.sort_order) | Q(sort_order=plan.sort_order, name__gt=plan.name)
    upto = Q(sort_order__lt=target.sort_order) | Q(
        sort_order=target.sort_order, name__lte=target.name
    )
    return Plan.objects.filter(between & upto, is_active=True).count()


def measures(samples: list[UsageSample]) -> list[Measure]:
    shares: dict[str, list[float]] = {}
    for sample in samples:
        for name, hard in sample.hard.items():
            used = sample.used.get(name)
            if name in LABELS and hard and used is not None:
                shares.setdefault(name, []).append(100 * used / hard)
    return [
        Measure(name, round(sum(s) / len(s)), round(max(s)))
        for name in LABELS
        if (s := shares.get(name))
    ]


def coverage(samples: list[UsageSample], now) -> tuple[int, float]:
    """Percent of the window's sampling intervals that hold a sample, and the days they cover."""
    interval = settings.PORTAL_USAGE_SAMPLE_INTERVAL
    window = settings.PORTAL_UPSIZE_RULE_WINDOW_DAYS * 86400
    slots = max(1, math.ceil(window / interval))
    start = now.timestamp() - window
    covered = {int((s.taken_at.timestamp() - start) // interval) for s in samples}
    filled = len({c for c in covered if 0 <= c < slots})
    return min(100, math.floor(100 * filled / slots)), filled * interval / 86400


def _days(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _verdict(tenant: Tenant, plan: Plan, found: list[Measure], covered: tuple[int, float]):
    threshold = settings.PORTAL_UPSIZE_RULE_THRESHOLD
    window = settings.PORTAL_UPSIZE_RULE_WINDOW_DAYS
    step = next_plan(tenant.plan)
    if step is None or step.pk != plan.pk:
        if step is None:
            return (
                False,
                f"Not met: no plan is offered above {tenant.plan.title}; the rule moves a "
                "tenant to the next larger one only.",
            )
        steps = _steps(tenant.plan, plan)
        how_far = f"{steps} plan steps above" if steps > 1 else "not the next plan after"
        return False, (
            f"Not met: {plan.title} is {how_far} {tenant.plan.title}; the rule moves a tenant one "
            f"step only, to {step.title}."
        )
    percent, days = covered
    if percent < settings.PORTAL_UPSIZE_RULE_COVERAGE:
        return False, (
            f"Not met: only {_days(days)} days of samples on {tenant.plan.title} in the last "
            f"{window} ({percent} % of the window); the rule needs "
            f"{settings.PORTAL_UPSIZE_RULE_COVERAGE} %."
        )
    counted = sorted((m for m in found if m.name in COUNTED), key=lambda m: -m.average)
    if not counted:
        return False, "Not met: the samples hold no measure the rule counts."
    top = counted[0]
    over = f"{top.average} % average over {window} days"
    if top.average >= threshold:
        return True, f"Met: {LABELS[top.name]} at {over}, at or above {threshold} %."
    return False, f"Not met: {LABELS[top.name]} at {over} (the highest), below {threshold} %."


def upsizing_evidence(*, tenant: Tenant, plan: Plan, now=None) -> dict:
    """What the rule finds for moving the tenant to the plan: met or not, why, and the measures
    (a JSON-ready dict, kept on the tenant as plan_evidence and in the audit)."""
    now = now or timezone.now()
    samples = samples_in_window(tenant, now)
    found = measures(samples)
    covered = coverage(samples, now)
    met, verdict = _verdict(tenant, plan, found, covered)
    return {
        "plan": plan.name,
        "plan_title": plan.title,
        "from_plan": tenant.plan.name,
        "met": met,
        "applied": False,
        "rule": rule_text(),
        "verdict": verdict,
        "measures": [m.text for m in found],
        "samples": len(samples),
        "coverage_percent": covered[0],
        "at": now.isoformat(),
    }
