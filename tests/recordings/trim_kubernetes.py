"""Copy the kube-apiserver 1.32 recordings the conformance tests replay, trimmed.

Run from the repository root: `.venv/bin/python tests/recordings/trim_kubernetes.py [SOURCE]`
(SOURCE defaults to ../shared/recordings/kubernetes-1.32). Kept: every edge case, and the life of
tenant h1rec (one file, its phases in order) with what was sent and answered. Dropped: audit
timings, the field sets of managedFields (only who manages an object, and how, is compared),
and a read answered exactly as the same read before it.
"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent / "kubernetes-1.32"
EDGE = ("seq", "case", "note", "method", "path", "request_content_type", "request_body")
EDGE_ANSWER = ("status", "response_warnings", "response_body")
LIFE = ("seq", "phase", "user", "user_agent", "method", "requestURI", "request_object")
LIFE_ANSWER = ("status", "response_object")


def managers(obj):
    """The object with its managedFields cut to manager, operation and subresource."""
    if isinstance(obj, dict):
        meta = obj.get("metadata")
        if isinstance(meta, dict) and "managedFields" in meta:
            meta["managedFields"] = [
                {k: m[k] for k in ("manager", "operation", "subresource") if k in m}
                for m in meta["managedFields"]
            ]
        for item in obj.get("items") or []:
            managers(item)
    return obj


def edge_cases(source: Path) -> list[dict]:
    rows = [json.loads(line) for line in (source / "edge-cases.jsonl").open()]
    for row in rows:
        managers(row["response_body"])
    return [{k: row.get(k) for k in EDGE + EDGE_ANSWER} for row in rows]


def lifecycle(source: Path) -> list[dict]:
    rows = []
    for name in sorted((source / "lifecycle-h1rec").glob("0*.jsonl")):
        for line in name.open():
            row = json.loads(line)
            managers(row["response_object"])
            rows.append({k: row.get(k) for k in LIFE + LIFE_ANSWER})
    last, kept = {}, []
    for row in rows:
        if row["method"] == "GET":
            answer = json.dumps([row["status"], row["response_object"]], sort_keys=True)
            if last.get(row["requestURI"]) == answer:
                continue
            last[row["requestURI"]] = answer
        kept.append(row)
    return kept


def write(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def main(source: Path) -> None:
    HERE.mkdir(exist_ok=True)
    write(HERE / "edge-cases.jsonl", edge_cases(source))
    write(HERE / "lifecycle-h1rec.jsonl", lifecycle(source))


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/recordings/kubernetes-1.32"))
