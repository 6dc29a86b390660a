#!/usr/bin/env bash
# Make sure the services the tests talk to answer on loopback: PostgreSQL, MariaDB, Redis.
# Starts them if they are installed but stopped; installs Debian's packages if they are missing.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for() {
  for _ in $(seq 1 60); do listening "$2" && return 0; sleep 0.5; done
  echo "$1 did not start listening on 127.0.0.1:$2." >&2
  exit 1
}
apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# PostgreSQL: the portal's database.
if ! listening 5432; then
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "Installing PostgreSQL ..."
    apt_install postgresql
  fi
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_for PostgreSQL 5432
  # A fresh cluster asks for passwords over TCP: give the test user the one the tests send.
  as_root su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'postgres'\"" || true
fi

# MariaDB: the tenants' databases.
if ! listening 3306; then
  if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
    echo "Installing MariaDB ..."
    apt_install mariadb-server
  fi
  as_root mkdir -p /run/mysqld && as_root chown mysql:mysql /run/mysqld 2>/dev/null || true
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql
  wait_for MariaDB 3306
  # Fresh installs let root in by socket only; the tests sign in over TCP without a password.
  as_root mariadb -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('')" || true
fi

# Redis: the Celery broker of the integration tests.
if ! listening 6379; then
  if ! command -v redis-server >/dev/null 2>&1; then
    echo "Installing Redis ..."
    apt_install redis-server
  fi
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for Redis 6379
fi

# Chromium for the browser tests, Node.js for the OpenID Connect provider stand-in, PHP's
# CLI for the tenant WordPress's mu-plugins (tests/fakes/wordpress runs them under php -S), and
# nginx for the maintenance server's own configuration (tests/deploy, on a loopback port).
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
command -v php >/dev/null 2>&1 || missing+=(php-cli)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing ${missing[*]} ..."
  apt_install "${missing[@]}"
fi
