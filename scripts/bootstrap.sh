#!/usr/bin/env bash
# Create .venv and install the portal (and with "dev", what the tests need). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "The portal needs Python 3.11 or newer as '$PYTHON' (set PYTHON=... to pick another)." >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    # Debian and Ubuntu ship venv separately.
    rm -rf .venv
    echo "Installing the Python venv module (python3-venv)..."
    as_root apt-get update -qq
    as_root apt-get install -y -qq python3-venv >/dev/null
    "$PYTHON" -m venv .venv
  fi
fi
extras=""
[ "${1:-}" = "dev" ] && extras="[dev]"
stamp=".venv/.installed${extras}"
fresh() { [ -f "$1" ] && [ ! pyproject.toml -nt "$1" ]; }
# Reinstall only when the dependency list changed (a dev install covers the plain one too).
if ! fresh "$stamp" && ! { [ -z "$extras" ] && fresh ".venv/.installed[dev]"; }; then
  echo "Installing the portal${extras:+ with test tools} into .venv ..."
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".${extras}"
  touch "$stamp"
fi
