"""The usage rule: the next larger plan at once when the tenant's measured use shows the need."""

import math
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from tenants.models import Plan, Tenant, UsageSample
from tenants.usage import samples_in_window

LABELS = {
    "cpu_use": "CPU use",
    "memory_use": "memory use",
    "cpu": "CPU requests",
    "memory": "memory requests",
    "pods": "pods",
    "database": "database size (of the plan's storage)",
    "storage": "volume claims",
}
# What the rule weighs, by the measure it has: the web pods' real CPU and memory use (the
# Metrics API) where the samples hold it for the window; else, as a stand-in, what the pods
# request of the quota, which a running site fills to about replicas / (replicas + 2) whatever
# its load. Never the claims: a volume's claim asks for the plan's whole size from the start,
# so it stands at 100 % of the quota whatever the site keeps on it.
_NOT_COUNTED = {
    "use": {"cpu": "real use is measured", "memory": "real use is measured"},
    "requests": {"cpu_use": "too few samples of it", "memory_use": "too few samples of it"},
}


@dataclass(frozen=True)
class Measure:
    name: str
    average: int  # percent of the quota, over the window's samples
    peak: int
    why_not: str = ""  # why the rule doesn't count it ("" when it does)

    @property
    def counted(self) -> bool:
        return not self.why_not

    @property
    def text(self) -> str:
        counted = f" (not counted: {self.why_not})" if self.why_not else ""
        return f"{LABELS[self.name]}: {self.average} % on average, {self.peak} % at most{counted}"


def rule_text() -> str:
    return (
        f"The next larger plan is approved at once when the CPU or memory the site's web pods "
        f"use (the Metrics API), its pods or its database averaged "
        f"{settings.PORTAL_UPSIZE_RULE_THRESHOLD} % or more of what its plan allows over the "
        f"last {settings.PORTAL_UPSIZE_RULE_WINDOW_DAYS} days on the current plan, with samples "
        f"in at least {settings.PORTAL_UPSIZE_RULE_COVERAGE} % of them; where the cluster gives "
        "no real use, the quota's CPU and memory requests stand in."
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


def measures(samples: list[UsageSample], basis: str = "requests") -> list[Measure]:
    shares: dict[str, list[float]] = {}
    for sample in samples:
        for name, hard in sample.hard.items():
            used = sample.used.get(name)
            if name in LABELS and hard and used is not None:
                shares.setdefault(name, []).append(100 * used / hard)
    why = {"storage": "a claim asks for it all", **_NOT_COUNTED[basis]}
    return [
        Measure(name, round(sum(s) / len(s)), round(max(s)), why.get(name, ""))
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


def _basis(samples: list[UsageSample], now) -> tuple[str, tuple[int, float], str]:
    """Which measure the rule weighs ("use" or "requests"), the window's coverage by the
    samples that hold it, and that measure in words (why the stand-in, when it is one)."""
    with_use = [s for s in samples if "cpu_use" in s.used]
    covered = coverage(with_use, now)
    if with_use and covered[0] >= settings.PORTAL_UPSIZE_RULE_COVERAGE:
        last = with_use[-1].hard
        return (
            "use",
            covered,
            (
                "Measured by real use: the CPU and memory the site's web pods used (the Metrics "
                "API, metrics.k8s.io, served by metrics-server), against its plan's limits for "
                f"them ({last.get('cpu_use', 0)}m CPU, {last.get('memory_use', 0) // 2**20} MiB "
                "in all)."
            ),
        )
    if not with_use:
        notes = [s.use_note for s in samples if s.use_note]
        why = notes[-1] if notes else "The samples hold no real use."
    else:
        why = (
            f"Real use from the Metrics API covers only {covered[0]} % of the window; the "
            f"rule needs {settings.PORTAL_UPSIZE_RULE_COVERAGE} %."
        )
    return (
        "requests",
        coverage(samples, now),
        (
            "Measured by the quota's requests (what the pods reserve, not what they use), "
            f"standing in for real use: {why}"
        ),
    )


def _verdict(
    tenant: Tenant, plan: Plan, found: list[Measure], covered: tuple[int, float]
) -> tuple[bool, str]:
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
    counted = sorted((m for m in found if m.counted), key=lambda m: -m.average)
    if not counted:
        return False, "Not met: the samples hold no measure the rule counts."
    top = counted[0]
    over = f"{top.average} % average over {window} days"
    if top.average >= threshold:
        return True, f"Met: {LABELS[top.name]} at {over}, at or above {threshold} %."
    return False, f"Not met: {LABELS[top.name]} at {over} (the highest), below {threshold} %."


def upsizing_evidence(*, tenant: Tenant, plan: Plan, now=None) -> dict:
    """What the rule finds for moving the tenant to the plan: met or not, why, by which measure,
    and the measures (a JSON-ready dict, kept on the tenant as plan_evidence and in the audit)."""
    now = now or timezone.now()
    samples = samples_in_window(tenant, now)
    basis, covered, measured_by = _basis(samples, now)
    found = measures(samples, basis)
    met, verdict = _verdict(tenant, plan, found, covered)
    return {
        "plan": plan.name,
        "plan_title": plan.title,
        "from_plan": tenant.plan.name,
        "met": met,
        "applied": False,
        "rule": rule_text(),
        "verdict": verdict,
        "measure": basis,
        "measured_by": measured_by if samples else "",
        "measures": [m.text for m in found],
        "samples": len(samples),
        "coverage_percent": covered[0],
        "at": now.isoformat(),
    }
