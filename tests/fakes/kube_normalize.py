"""What a kube-apiserver makes of an object before storing it: canonical quantities, dropped
empty values, defaults, and which fields its schema doesn't declare.

Each rule is one the real server showed in tests/recordings/kubernetes-1.32/ (edge-cases.jsonl and
the lifecycle files); the fake applies them so that what the portal reads back is what a real
cluster gives it.
"""

from __future__ import annotations

import json
import re
from fractions import Fraction

from provisioning.schema import validator_for

# --- quantities (k8s.io/apimachinery/pkg/api/resource) ------------------------------------------

_QUANTITY = re.compile(
    r"^([+-]?)(\d*)(?:\.(\d*))?(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([numkMGTPE])|[eE]([+-]?\d+))?$"
)
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {v: k for k, v in _DECIMAL.items()}
_BINARY_SUFFIX = {v // 10: k for k, v in _BINARY.items()}


def canonical_quantity(text: str) -> str:
    """The string the API server stores for a quantity, as resource.Quantity renders it.

    The input is kept when Go's parser keeps it (already canonical: `500m`, `5Gi`, `2G`, also
    `010`), else rendered anew (`1024Mi`→`1Gi`, `0.5`→`500m`, `1000m`→`1`, `1e2`→`100`).
    """
    m = _QUANTITY.match(text.strip())
    if not m or not (m.group(2) or m.group(3)):
        return text
    sign, num, denom = m.group(1), m.group(2) or "", m.group(3) or ""
    binary, si, exp = m.group(4), m.group(5), m.group(6)
    digits = int(num + denom or "0")
    if binary:
        if not denom and digits & 0x07:
            return text
        value = Fraction(digits, 10 ** len(denom)) * 2 ** _BINARY[binary]
    else:
        exponent = int(exp) if exp is not None else _DECIMAL[si or ""]
        scale = exponent - len(denom)
        if scale % 3 == 0 and not (num + denom).endswith("000"):
            return text
        value = Fraction(digits) * Fraction(10) ** scale
    if sign == "-":
        value = -value
    if value == 0:
        return "0"
    if binary and value.denominator == 1 and abs(value) >= 1024:
        number, power = value.numerator, 0
        while number % 1024 == 0 and power < 6:
            number, power = number // 1024, power + 1
        return f"{number}{_BINARY_SUFFIX[power]}"
    # Decimal: the largest multiple-of-3 exponent that keeps the number whole.
    exponent = -9
    while value * Fraction(10) ** -exponent != int(value * Fraction(10) ** -exponent):
        exponent += 3  # finer than nano: Go rounds up; not a case the portal meets
        if exponent > 18:
            return text
    while exponent < 18 and (value / Fraction(10) ** (exponent + 3)).denominator == 1:
        exponent += 3
    number = int(value / Fraction(10) ** exponent)
    if exp is not None:
        return f"{number}e{exponent}" if exponent else str(number)
    return f"{number}{_DECIMAL_SUFFIX[exponent]}"


def _canonical_map(resources: dict | None) -> None:
    for key, value in (resources or {}).items():
        if isinstance(value, str):
            resources[key] = canonical_quantity(value)


# --- defaults and dropped values ----------------------------------------------------------------


def _probe(probe: dict | None) -> None:
    if not probe:
        return
    for key, value in (
        ("timeoutSeconds", 1),
        ("periodSeconds", 10),
        ("successThreshold", 1),
        ("failureThreshold", 3),
    ):
        probe.setdefault(key, value)
    if "httpGet" in probe:
        probe["httpGet"].setdefault("scheme", "HTTP")


def _container(container: dict, defaults: bool) -> None:
    for env in container.get("env") or []:
        if env.get("value") == "":
            del env["value"]  # `value` is omitempty: the server keeps {"name": ...} only
    for key in ("env", "ports", "volumeMounts", "envFrom"):
        if container.get(key) == []:
            del container[key]  # omitempty lists: an empty one is not stored
    resources = container.get("resources") or {}
    _canonical_map(resources.get("requests"))
    _canonical_map(resources.get("limits"))
    if not defaults:
        return
    container.setdefault("resources", {})
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")
    _probe(container.get("readinessProbe"))
    _probe(container.get("livenessProbe"))
    _probe(container.get("startupProbe"))
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    image = container.get("image", "")
    latest = ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest")
    container.setdefault("imagePullPolicy", "Always" if latest else "IfNotPresent")


def pod_template(template: dict, defaults: bool, restart_policy: str | None = "Always") -> None:
    spec = template.get("spec") or {}
    for container in (spec.get("containers") or []) + (spec.get("initContainers") or []):
        _container(container, defaults)
    if not defaults:
        return
    template.setdefault("metadata", {}).setdefault("creationTimestamp", None)
    spec = template.setdefault("spec", {})
    if restart_policy:  # a Job's pods must say (Never or OnFailure): no default there
        spec.setdefault("restartPolicy", restart_policy)
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    if "serviceAccountName" in spec:
        spec.setdefault("serviceAccount", spec["serviceAccountName"])
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")


def _deployment(obj: dict, defaults: bool) -> None:
    if not defaults:
        pod_template((obj.get("spec") or {}).get("template") or {}, defaults)
        return
    spec = obj.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
    if strategy.get("type") == "RollingUpdate":
        rolling = strategy.setdefault("rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    pod_template(spec.setdefault("template", {}), defaults)


def _job(obj: dict, defaults: bool) -> None:
    if not defaults:
        pod_template((obj.get("spec") or {}).get("template") or {}, defaults)
        return
    spec = obj.setdefault("spec", {})
    for key, value in (
        ("parallelism", 1),
        ("completions", 1),
        ("backoffLimit", 6),
        ("completionMode", "NonIndexed"),
        ("suspend", False),
        ("podReplacementPolicy", "TerminatingOrFailed"),
        ("manualSelector", False),
    ):
        spec.setdefault(key, value)
    pod_template(spec.setdefault("template", {}), defaults, restart_policy=None)


def _limit_range(obj: dict, defaults: bool) -> None:
    for item in (obj.get("spec") or {}).get("limits") or []:
        for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            _canonical_map(item.get(key))
        if defaults and item.get("type") == "Container":
            # SetDefaults_LimitRangeItem: default from max, default request from default/min.
            default = item.setdefault("default", {})
            request = item.setdefault("defaultRequest", {})
            for key, value in (item.get("max") or {}).items():
                default.setdefault(key, value)
            for key, value in {**(item.get("min") or {}), **default}.items():
                request.setdefault(key, value)
            for key in ("default", "defaultRequest"):
                if not item[key]:
                    del item[key]


def _claim(obj: dict, defaults: bool) -> None:
    resources = (obj.get("spec") or {}).get("resources") or {}
    _canonical_map(resources.get("requests"))
    _canonical_map(resources.get("limits"))
    if defaults:
        obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")


def _quota(obj: dict, defaults: bool) -> None:
    _canonical_map((obj.get("spec") or {}).get("hard"))


_BY_KIND = {
    "Deployment": _deployment,
    "Job": _job,
    "LimitRange": _limit_range,
    "PersistentVolumeClaim": _claim,
    "ResourceQuota": _quota,
}


def normalize(obj: dict, defaults: bool = True) -> None:
    """In place: what the API server's decoding (and, with defaults, its defaulting) make of
    the object. Without defaults for an apply's configuration: the manager owns what it sent,
    canonical, not the defaults."""
    _BY_KIND.get(obj.get("kind"), lambda obj, defaults: None)(obj, defaults)


# --- fields the schema doesn't declare ------------------------------------------------------------


def schema_check(obj: dict) -> None:
    """Raise the first jsonschema.ValidationError of the object against the pinned schema."""
    validator = validator_for(obj.get("kind", ""), obj.get("apiVersion", ""))
    if validator is not None:
        validator.validate(obj)


def undeclared_fields(obj: dict) -> list[tuple]:
    """Paths (keys and list indexes) of the fields the pinned schema doesn't declare."""
    validator = validator_for(obj.get("kind", ""), obj.get("apiVersion", ""))
    if validator is None:
        return []
    out = []
    for error in validator.iter_errors(obj):
        if error.validator == "additionalProperties":
            declared = set(error.schema.get("properties") or {})
            for name in error.instance:
                if name not in declared:
                    out.append((*error.absolute_path, name))
    return out


def drop(obj: dict, path: tuple) -> None:
    for key in path[:-1]:
        obj = obj[key]
    obj.pop(path[-1], None)


def smd_path(obj: dict, path: tuple) -> str:
    """A path as structured-merge-diff writes it: `.spec.containers[name="c"].field`."""
    out, node = "", obj
    for key in path:
        if isinstance(key, int):
            item = node[key]
            named = isinstance(item, dict) and "name" in item
            out += f"[name={json.dumps(item['name'])}]" if named else f"[{key}]"
        else:
            out += f".{key}"
        node = node[key] if isinstance(node, dict | list) else None
    return out


def strict_path(path: tuple) -> str:
    """A path as the strict decoder writes it: `spec.containers[0].field`."""
    out = ""
    for key in path:
        out += f"[{key}]" if isinstance(key, int) else f".{key}"
    return out.lstrip(".")
