#!/usr/bin/env bash
# Wait until a URL answers 200 (the portal's /readyz after a deploy): 30 tries, 20 s apart.
set -euo pipefail
url=${1:?usage: deploy-wait.sh <url>}
tries=${DEPLOY_WAIT_TRIES:-30}
for i in $(seq 1 "$tries"); do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$url" || true)
  if [ "$code" = 200 ]; then echo "$url answers 200 (try $i)"; exit 0; fi
  echo "$url answered ${code:-nothing} (try $i of $tries)"
  [ "$i" = "$tries" ] || sleep "${DEPLOY_WAIT_SECONDS:-20}"
done
echo "$url never answered 200" >&2
exit 1
