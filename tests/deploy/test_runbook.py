"""deploy/README.md's commands run in a pod: one that asks a question gets a terminal."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
README = REPO / "deploy" / "README.md"

# Django's createsuperuser and changepassword skip (exit 0, nothing done) or fail without a
# TTY; shell and dbshell read one; the portal's own ask for the slug again unless --yes.
ASKING = {"createsuperuser", "changepassword", "shell", "dbshell"}
ASKING_UNLESS_YES = {"tenant_deprovision", "tenant_adopt"}


def _execs() -> list[str]:
    text = README.read_text().replace("\\\n", " ")
    return re.findall(r"kubectl [^`\n]*? exec [^`\n]*? -- python manage\.py [^`\n]*", text)


def test_the_runbook_has_commands_run_in_a_pod():
    assert any("createsuperuser" in line for line in _execs())


def test_a_command_that_asks_is_given_a_terminal():
    for line in _execs():
        before, command = line.split(" -- python manage.py ", 1)
        name, *args = command.split()
        asks = (name in ASKING and "--noinput" not in args) or (
            name in ASKING_UNLESS_YES and "--yes" not in args
        )
        if asks:
            flags = set(re.findall(r"\s(-\w+|--stdin|--tty)\b", f" {before}"))
            assert flags & {"-it", "-ti"} or {"-i", "-t"} <= flags, (
                f"{line!r}: without -it kubectl exec gives {name} no terminal to answer on"
            )
