#!/usr/bin/env bash
# A private PostgreSQL for development and tests, from this machine's
# PostgreSQL server binaries, with its data under .data/.
#
#   scripts/pg.sh start    initialise (first time) and start; prints nothing else
#   scripts/pg.sh stop     stop it
#   scripts/pg.sh status   exit 0 when it is running
#   scripts/pg.sh url [DB] print the postgres:// URL of database DB (default todo)
#
# Settings: TODO_PG_PORT, TODO_DATA_DIR (default ./.data). Without TODO_PG_PORT,
# the first start picks a free port from 55432 up and keeps it in .data/pg.port,
# so clones side by side each get their own server.
# As root, the server runs as the `postgres` user, since initdb refuses root.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data_dir=${TODO_DATA_DIR:-$root/.data}
port=${TODO_PG_PORT:-}
pgdata=$data_dir/pg
log=$data_dir/pg.log

die() { echo "pg.sh: $*" >&2; exit 1; }

find_bindir() {
  local d
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) /usr/local/pgsql/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return; }
  die "no PostgreSQL server binaries (initdb) found; install them (Debian: apt-get install postgresql) or set DATABASE_URL"
}

as_owner() {
  # cd /: the postgres user may not be allowed into the current directory.
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

# As root, the data must live where the postgres user can reach it. A repo
# under a private home (e.g. /root) is not; use /var/tmp then, and say so.
resolve_pgdata() {
  [ "$(id -u)" = 0 ] || return 0
  id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user (it comes with Debian's postgresql package)"
  mkdir -p "$data_dir"
  if [ -f "$data_dir/pg.location" ]; then pgdata=$(cat "$data_dir/pg.location"); log=$pgdata.log; return 0; fi
  mkdir -p "$pgdata"; chown postgres: "$pgdata"
  if ! runuser -u postgres -- test -w "$pgdata"; then
    rmdir "$pgdata" 2>/dev/null || true
    pgdata=/var/tmp/todo-api-$(echo -n "$root" | sha256sum | cut -c1-12)/pg
    echo "pg.sh: the postgres user cannot reach $data_dir; keeping the database in $pgdata" >&2
    echo "$pgdata" > "$data_dir/pg.location"
    log=$pgdata.log
  fi
}

running() { [ -f "$pgdata/postmaster.pid" ] && as_owner "$bindir/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; }

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# resolve_port: TODO_PG_PORT, else the port this cluster was given, else the
# first free one from 55432 (remembered for next time).
resolve_port() {
  [ -n "$port" ] && return 0
  if [ -s "$data_dir/pg.port" ]; then port=$(cat "$data_dir/pg.port"); return 0; fi
  if [ -s "$pgdata/postmaster.pid" ]; then # running, started before ports were remembered
    port=$(sed -n 4p "$pgdata/postmaster.pid")
    [ "${1:-}" = remember ] && echo "$port" > "$data_dir/pg.port"
    return 0
  fi
  port=55432
  while listening "$port"; do port=$((port + 1)); done
  [ "${1:-}" = remember ] && echo "$port" > "$data_dir/pg.port"
  return 0
}

url() { echo "postgres://postgres@127.0.0.1:$port/${1:-todo}?sslmode=disable"; }

start() {
  mkdir -p "$data_dir"
  resolve_port remember
  if [ ! -s "$pgdata/PG_VERSION" ]; then
    mkdir -p "$pgdata"; chmod 700 "$pgdata"
    [ "$(id -u)" = 0 ] && chown -R postgres: "$(dirname "$pgdata")"
    echo "pg.sh: initialising a PostgreSQL cluster in $pgdata" >&2
    as_owner "$bindir/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$data_dir/initdb.log" 2>&1 \
      || as_owner "$bindir/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --no-locale >"$data_dir/initdb.log" 2>&1 \
      || die "initdb failed; see $data_dir/initdb.log"
  fi
  if running; then return 0; fi
  if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" 2>/dev/null; then
    die "port $port is taken by another server; set TODO_PG_PORT to a free port, or DATABASE_URL to use that server"
  fi
  [ "$(id -u)" = 0 ] && { touch "$log"; chown postgres: "$log"; }
  # Development data: durability is traded for speed (no fsync).
  as_owner "$bindir/pg_ctl" -D "$pgdata" -l "$log" -w -t 60 \
    -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || die "PostgreSQL did not start; see $log"
  "$bindir/psql" -qAt "$(url postgres)" -c "SELECT 1 FROM pg_database WHERE datname = 'todo'" | grep -q 1 \
    || "$bindir/psql" -q "$(url postgres)" -c "CREATE DATABASE todo" >/dev/null
}

stop() { if running; then as_owner "$bindir/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null; fi; }

bindir=$(find_bindir)
resolve_pgdata
case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) running ;;
  url) resolve_port; url "${2:-todo}" ;;
  *) die "usage: scripts/pg.sh start|stop|status|url [DB]" ;;
esac
