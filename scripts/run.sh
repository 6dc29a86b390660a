#!/usr/bin/env bash
# Set up and run the whole portal locally: web server, Celery worker and beat. Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-8000}
scripts/bootstrap.sh
export DJANGO_SETTINGS_MODULE=portal.settings
.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py portal_first_admin

pids=()
stop() {
  trap - INT TERM EXIT
  echo "Stopping the portal ..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT

queues="portal,${PORTAL_PROVISIONING_QUEUE:-provisioning}"
.venv/bin/celery -A portal worker --beat --loglevel "${CELERY_LOGLEVEL:-info}" -Q "$queues" \
  --schedule "${PORTAL_VAR_DIR:-var}/celerybeat-schedule" &
pids+=($!)
.venv/bin/python manage.py runserver "127.0.0.1:${PORT}" --noreload &
pids+=($!)
echo "The portal runs on http://127.0.0.1:${PORT}/ (Ctrl-C stops the web server and the worker)."
# Stop everything as soon as either process ends.
wait -n
