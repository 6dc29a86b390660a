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
exec .venv/bin/pytest "$@"
