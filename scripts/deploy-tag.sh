#!/usr/bin/env bash
# Point an environment's portal overlay at an image tag, and its tenants' WordPress at the
# images of the same commit: ./scripts/deploy-tag.sh <env> <tag> [<commit>].
# With DEPLOY_COMMIT=1 (CI's deploy job) it commits and pushes; Flux applies the change.
set -euo pipefail
cd "$(dirname "$0")/.."

env=${1:?usage: deploy-tag.sh <staging|production> <tag> [<commit>]}
tag=${2:?usage: deploy-tag.sh <staging|production> <tag> [<commit>]}
commit=${3:-}
# Only CI's environments, by name: a path such as ../../x would edit a file outside the overlays.
case "$env" in
  staging | production) ;;
  *) echo "unknown environment '$env': deploy-tag.sh moves staging or production" >&2; exit 1 ;;
esac
file="deploy/portal/overlays/$env/kustomization.yaml"
[ -f "$file" ] || { echo "no overlay for environment '$env' ($file)" >&2; exit 1; }
[[ "$tag" =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] || { echo "not an image tag: '$tag'" >&2; exit 1; }
grep -q '^    newTag: ' "$file" || { echo "$file has no images[].newTag line" >&2; exit 1; }
if [ -n "$commit" ]; then
  [[ "$commit" =~ ^[0-9a-f]{12,40}$ ]] || { echo "not a commit: '$commit'" >&2; exit 1; }
  grep -q 'tenant-wordpress:{version}-[0-9a-f]\{12\}"' "$file" \
    || { echo "$file pins no tenant-wordpress:{version}-<commit>" >&2; exit 1; }
fi

sed -i "s/^    newTag: .*/    newTag: \"$tag\"/" "$file"
echo "$env now runs tenant-portal:$tag"
if [ -n "$commit" ]; then
  sed -i "s/tenant-wordpress:{version}-[0-9a-f]\{12\}\"/tenant-wordpress:{version}-${commit::12}\"/" "$file"
  echo "$env tenants run tenant-wordpress:{version}-${commit::12}"
fi

if [ "${DEPLOY_COMMIT:-0}" = 1 ]; then
  git config user.name "${GIT_AUTHOR_NAME:-deploy}"
  git config user.email "${GIT_AUTHOR_EMAIL:-deploy@users.noreply.github.com}"
  git add "$file"
  if git diff --cached --quiet; then
    echo "$env already runs $tag"
  else
    git commit -q -m "deploy: $env runs tenant-portal:$tag${commit:+, tenant-wordpress:{version}-${commit::12}}"
    git push -q origin HEAD
  fi
fi
