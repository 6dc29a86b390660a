"""What wp-config.php's CONFIG_EXTRA defines for a given pod environment (its simple defines)."""

import re

_DEFINE = re.compile(r"^define\('(\w+)', (.+)\);$")
_PART = re.compile(r"getenv\('(\w+)'\)(?: \?: '')?|'([^']*)'|true|false")


def constants(config_extra: str, env: dict[str, str]) -> dict[str, object]:
    """NAME -> value for each `define('NAME', <getenv/literal . ...>);` line, as PHP would."""
    found: dict[str, object] = {}
    for line in config_extra.splitlines():
        match = _DEFINE.match(line)
        if not match:
            continue
        name, expression = match.groups()
        if expression in ("true", "false"):
            found[name] = expression == "true"
            continue
        parts = [p.strip() for p in expression.split(" . ")]
        if not all(_PART.fullmatch(p) for p in parts):
            continue  # not a simple define (serialize([...]) and the like)
        value = ""
        for part in parts:
            m = _PART.fullmatch(part)
            value += env.get(m.group(1), "") if m.group(1) else m.group(2)
        found[name] = value
    return found


def pod_env(container: dict) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


_ENTRY = re.compile(r"^\s*'([\w-]+)' => (.+),$")


def _value(expression: str, env: dict[str, str]) -> object:
    if expression in ("true", "false"):
        return expression == "true"
    if m := re.fullmatch(r"getenv\('(\w+)'\) === '([^']*)'", expression):
        return env.get(m[1], "") == m[2]
    if m := re.fullmatch(r"getenv\('(\w+)'\)(?: \?: '')?", expression):
        return env.get(m[1], "")
    if m := re.fullmatch(r"'([^']*)'", expression):
        return m[1]
    raise ValueError(f"not understood: {expression}")


def serialized(config_extra: str, name: str, env: dict[str, str]) -> dict[str, object]:
    """The array of `define('NAME', serialize([...]));` (one 'key' => value per line)."""
    lines = config_extra.splitlines()
    start = lines.index(f"define('{name}', serialize([")
    found: dict[str, object] = {}
    for line in lines[start + 1 :]:
        if line == "]));":
            return found
        if line.strip().startswith("//"):
            continue
        match = _ENTRY.match(line)
        if not match:
            raise ValueError(f"not understood: {line}")
        found[match[1]] = _value(match[2], env)
    raise ValueError(f"{name} is not closed")
