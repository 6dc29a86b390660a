#!/usr/bin/env bash
# Point an environment's portal overlay at an image tag: ./scripts/deploy-tag.sh <env> <tag>.
# With DEPLOY_COMMIT=1 (CI's deploy job) it commits and pushes; Flux applies the change.
set -euo pipefail
cd "$(dirname "$0")/.."

env=${1:?usage: deploy-tag.sh <staging|production> <tag>}
tag=${2:?usage: deploy-tag.sh <staging|production> <tag>}
file="deploy/portal/overlays/$env/kustomization.yaml"
[ -f "$file" ] || { echo "no overlay for environment '$env' ($file)" >&2; exit 1; }
[[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || { echo "not an image tag: '$tag'" >&2; exit 1; }
grep -q '^    newTag: ' "$file" || { echo "$file has no images[].newTag line" >&2; exit 1; }

sed -i "s/^    newTag: .*/    newTag: \"$tag\"/" "$file"
echo "$env now runs tenant-portal:$tag"

if [ "${DEPLOY_COMMIT:-0}" = 1 ]; then
  git config user.name "${GIT_AUTHOR_NAME:-deploy}"
  git config user.email "${GIT_AUTHOR_EMAIL:-deploy@users.noreply.github.com}"
  git add "$file"
  if git diff --cached --quiet; then
    echo "$env already runs $tag"
  else
    git commit -q -m "deploy: $env runs tenant-portal:$tag"
    git push -q origin HEAD
  fi
fi
