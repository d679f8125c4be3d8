#!/usr/bin/env bash
# `make run`: the whole service on http://localhost:${PORT:-8000} with no
# configuration. Without DATABASE_URL it starts the private PostgreSQL under
# .data/ (reused by later runs); without JWT_SECRET_KEY it makes a development
# secret once and keeps it in .data/. It applies migrations, then serves.
# Ctrl-C stops the server and whatever this script started.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data_dir=${TODO_DATA_DIR:-$root/.data}
bin=${TODO_BIN:-$root/bin/todo-api}
mkdir -p "$data_dir"

started_pg=
server=
cleanup() {
  trap - INT TERM EXIT
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -TERM "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  if [ -n "$started_pg" ]; then
    echo "run.sh: stopping the private PostgreSQL" >&2
    "$root/scripts/pg.sh" stop
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -z "${DATABASE_URL:-}" ]; then
  if ! "$root/scripts/pg.sh" status; then
    "$root/scripts/pg.sh" start
    started_pg=1
  fi
  DATABASE_URL=$("$root/scripts/pg.sh" url todo)
  export DATABASE_URL
fi

if [ -z "${JWT_SECRET_KEY:-}" ]; then
  secret_file=$data_dir/jwt_secret
  if [ ! -s "$secret_file" ]; then
    (umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$secret_file")
    echo "run.sh: made a development JWT secret in $secret_file" >&2
  fi
  JWT_SECRET_KEY=$(cat "$secret_file")
  export JWT_SECRET_KEY
fi
export LOG_FORMAT=${LOG_FORMAT:-text}
# One process on a laptop has no load balancer to wait for: Ctrl-C stops at once.
export SHUTDOWN_DELAY=${SHUTDOWN_DELAY:-0s}

"$bin" migrate up
echo "run.sh: serving on http://localhost:${PORT:-8000} (API under /api/v1, docs at /docs); Ctrl-C stops" >&2
"$bin" serve &
server=$!
wait "$server"
