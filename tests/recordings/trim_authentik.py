"""Copy the Authentik 2025.8.1 recordings the tests replay, trimmed and without secrets.

Run from the repository root: `.venv/bin/python tests/recordings/trim_authentik.py [SOURCE]`
(SOURCE defaults to ../shared/recordings/authentik-2025.8.1). Kept: what a request and its
answer were. Dropped: timings, the events API (only the recording harness read it), headers.
Replaced: every client secret by a stable placeholder (`recorded-client-secret-N`, the same
value wherever the same secret appeared), e-mail addresses of users inside groups.
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent / "authentik-2025.8.1"
KEEP = ("seq", "by", "label", "auth", "method", "path", "query", "request_body", "status")


def main(source: Path) -> None:
    secrets: dict[str, str] = {}

    def scrub(value, key=""):
        if isinstance(value, dict):
            return {k: scrub(v, k) for k, v in value.items()}
        if isinstance(value, list):
            return [scrub(v) for v in value]
        if key == "client_secret" and isinstance(value, str) and value:
            return secrets.setdefault(value, f"recorded-client-secret-{len(secrets) + 1}")
        if key == "email" and isinstance(value, str) and value:
            return "user@example.com"
        return value

    files = sorted((source / "sso").glob("*.jsonl")) + [source / "raw-shapes.jsonl"]
    for src in files:
        out = []
        for line in src.read_text().splitlines():
            record = json.loads(line)
            if "/events/" in record["path"]:
                continue
            trimmed = {k: record[k] for k in KEEP if k in record}
            trimmed["request_body"] = scrub(record.get("request_body"))
            trimmed["response_body"] = scrub(record.get("response_body"))
            out.append(json.dumps(trimmed, sort_keys=True))
        dest = HERE / src.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text("".join(f"{line}\n" for line in out))
        print(f"{dest.relative_to(HERE.parent.parent.parent)}: {len(out)} calls")


if __name__ == "__main__":
    default = Path(__file__).resolve().parents[3] / "shared/recordings/authentik-2025.8.1"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
