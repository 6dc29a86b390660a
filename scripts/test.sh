#!/usr/bin/env bash
# Install what the tests need, start the services they use, run ruff and the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/bootstrap.sh dev
scripts/services.sh
# The loopback OpenID Connect provider of the sign-in tests (npm oidc-provider).
npm ci --prefix tests/fakes/oidc --no-audit --no-fund --silent
# The CRD schemas the deploy/ tests validate custom resources against (Flux, cert-manager, ...).
npm ci --prefix tests/deploy/crds --no-audit --no-fund --silent
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# The browser tests' screenshots of each page they walk, kept as test artifacts (CI uploads them).
export PORTAL_SCREENSHOT_DIR="${PORTAL_SCREENSHOT_DIR:-$PWD/var/test-artifacts/screenshots}"
exec .venv/bin/pytest "$@"
