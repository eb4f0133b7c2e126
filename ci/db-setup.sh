#!/usr/bin/env bash
# Make sure PostgreSQL and MariaDB are up, create throw-away databases for this run, and print
# the variables the database tests read:
#
#   eval "$(bash ci/db-setup.sh)"     # exports ART9_TEST_POSTGRES_URL and ART9_TEST_MYSQL_URL
#
# Expects the Debian packages postgresql and mariadb-server (trust auth on 127.0.0.1:5432 for
# user postgres, root without password on 127.0.0.1:3306). Everything but the export lines goes
# to stderr. A server that cannot be started is reported and its variable is not printed (the
# tests then say they were skipped); pass --require to fail instead. Databases left by runs
# that started more than six hours ago (art9_ci_<pid>_<epoch>) are dropped first; younger ones
# may belong to a run still going on the same servers.
set -uo pipefail
require=0
[ "${1:-}" = "--require" ] && require=1
log() { echo "db-setup: $*" >&2; }
now=$(date +%s)
run_id="art9_ci_$$_${now}"
failed=0

# Names of earlier runs' databases (one per line on stdin) that are over six hours old.
stale() {
  local name epoch
  while read -r name; do
    epoch=${name##*_}
    case $epoch in ''|*[!0-9]*) continue ;; esac
    [ $((now - epoch)) -gt 21600 ] && echo "$name"
  done
  return 0
}

wait_for() { # name, command...
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  log "$name did not accept connections within 60 s"
  return 1
}

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1; }
if ! pg_up; then
  log "starting PostgreSQL"
  for v in $(ls /etc/postgresql 2>/dev/null); do
    pg_ctlcluster --skip-systemctl-redirect "$v" main start >&2 || true
  done
fi
if wait_for PostgreSQL pg_up; then
  for db in $(psql -Atq -h 127.0.0.1 -U postgres -d postgres \
      -c "SELECT datname FROM pg_database WHERE datname LIKE 'art9\_ci\_%'" 2>/dev/null | stale); do
    log "dropping stale $db"
    psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db" >&2 || true
  done
fi
if pg_up \
   && psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $run_id" >&2; then
  echo "export ART9_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/$run_id"
else
  log "PostgreSQL is not available"; failed=1
fi

my_up() { mariadb -h 127.0.0.1 -P 3306 -u root -e 'SELECT 1' >/dev/null 2>&1; }
if ! my_up; then
  log "starting MariaDB"
  mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld 2>/dev/null || true
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql >&2 || true
fi
if wait_for MariaDB my_up; then
  for db in $(mariadb -N -h 127.0.0.1 -P 3306 -u root \
      -e "SHOW DATABASES LIKE 'art9\_ci\_%'" 2>/dev/null | stale); do
    log "dropping stale $db"
    mariadb -h 127.0.0.1 -P 3306 -u root -e "DROP DATABASE IF EXISTS $db" >&2 || true
  done
fi
if my_up \
   && mariadb -h 127.0.0.1 -P 3306 -u root -e "CREATE DATABASE $run_id" >&2; then
  echo "export ART9_TEST_MYSQL_URL=mysql://root@127.0.0.1:3306/$run_id"
else
  log "MariaDB is not available"; failed=1
fi

if [ "$failed" = 1 ] && [ "$require" = 1 ]; then exit 1; fi
exit 0
