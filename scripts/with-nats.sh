#!/usr/bin/env bash
# Runs a command with TEST_NATS_URL set. When it is not set, it starts the
# private NATS server (scripts/nats.sh: JetStream on file storage) for the
# command and stops it afterwards, unless it was already running; then it also
# sets TODO_NATS_SCRIPT to scripts/nats.sh's absolute path, so a test can run
# "$TODO_NATS_SCRIPT restart" to restart that server (same port, same data)
# in the middle of a stream.
#   scripts/with-pg.sh scripts/with-nats.sh go test ./...
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ -n "${TEST_NATS_URL:-}" ]; then
  exec "$@"
fi

started=
if ! "$here/nats.sh" status; then
  "$here/nats.sh" start
  started=1
fi
cleanup() { if [ -n "$started" ]; then "$here/nats.sh" stop; fi; }
trap cleanup EXIT
TEST_NATS_URL=$("$here/nats.sh" url)
TODO_NATS_SCRIPT=$here/nats.sh
export TEST_NATS_URL TODO_NATS_SCRIPT
"$@"
