#!/usr/bin/env bash
# Runs a command with TEST_DATABASE_URL and DATABASE_URL set. When neither is
# set, it starts the private PostgreSQL (scripts/pg.sh) for the command and
# stops it afterwards, unless it was already running.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ -n "${TEST_DATABASE_URL:-}${DATABASE_URL:-}" ]; then
  export TEST_DATABASE_URL=${TEST_DATABASE_URL:-$DATABASE_URL}
  exec "$@"
fi

started=
if ! "$here/pg.sh" status; then
  "$here/pg.sh" start
  started=1
fi
cleanup() { if [ -n "$started" ]; then "$here/pg.sh" stop; fi; }
trap cleanup EXIT
TEST_DATABASE_URL=$("$here/pg.sh" url postgres)
export TEST_DATABASE_URL
"$@"
