#!/usr/bin/env bash
# Set up and run the whole portal locally: web server, Celery worker and beat. Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-8000}
# Say so before minutes of set-up, not after: the web server would only fail at the end.
port_free() {
  python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as runserver binds
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)' "$1"
}
if ! port_free "$PORT"; then
  echo "Port ${PORT} on 127.0.0.1 is in use already; PORT=8080 ./scripts/run.sh picks another." >&2
  exit 1
fi
scripts/bootstrap.sh
export DJANGO_SETTINGS_MODULE=portal.settings
# Links in mails and webhooks name where this portal runs, on whichever PORT.
export PORTAL_URL=${PORTAL_URL:-http://127.0.0.1:${PORT}}
# Lines reach a piped or redirected log as they are written, in the order they happen.
export PYTHONUNBUFFERED=1
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py collectstatic --noinput --verbosity 0
.venv/bin/python manage.py portal_first_admin --url "http://127.0.0.1:${PORT}/"

pids=()
stop() {
  trap - INT TERM EXIT
  echo "Stopping the portal ..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  # The worker finishes the task it is running (warm shutdown); a stuck one must not keep
  # Ctrl-C from returning, so after a grace period whatever is left is killed.
  for _ in $(seq 1 100); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  for pid in "${pids[@]}"; do pkill -KILL -P "$pid" 2>/dev/null || true; kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

queues="portal,${PORTAL_PROVISIONING_QUEUE:-provisioning}"
.venv/bin/celery -A portal worker --beat --loglevel "${CELERY_LOGLEVEL:-info}" -Q "$queues" \
  --schedule "${PORTAL_VAR_DIR:-var}/celerybeat-schedule" &
pids+=($!)
.venv/bin/python manage.py runserver "127.0.0.1:${PORT}" --noreload &
web=$!
pids+=("$web")
# Announce the address only once the web server answers on it.
until ! port_free "$PORT"; do
  kill -0 "$web" 2>/dev/null || break
  sleep 0.2
done
if kill -0 "$web" 2>/dev/null; then
  echo "The portal runs on http://127.0.0.1:${PORT}/ (Ctrl-C stops the web server and the worker)."
fi
# Stop everything as soon as either process ends.
wait -n
