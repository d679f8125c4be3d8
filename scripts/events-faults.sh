#!/usr/bin/env bash
# The event log's fault scenarios (cmd/todo-events) on a PostgreSQL and a
# NATS server of their own, which the scenarios restart: under .data/events/
# (their own ports), started here and stopped at the end.
#
#   scripts/events-faults.sh                 kill, nats and db in turn
#   scripts/events-faults.sh measure         the same-sitting measurement
#   scripts/events-faults.sh kill nats ...   the scenarios named
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export TODO_DATA_DIR=$root/.data/events
unset TODO_PG_PORT TODO_NATS_PORT TODO_NATS_MONITOR_PORT
mkdir -p "$TODO_DATA_DIR"
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(kill nats db reminders)

cleanup() { scripts/nats.sh stop >/dev/null 2>&1 || true; scripts/pg.sh stop >/dev/null 2>&1 || true; }
trap cleanup EXIT
scripts/pg.sh start
scripts/nats.sh start
make -s build
db=$(scripts/pg.sh url postgres)
nats=$(scripts/nats.sh url)
logs=$TODO_DATA_DIR/logs
mkdir -p "$logs"
for s in "${scenarios[@]}"; do
  printf '\n== %s\n' "$s"
  go run ./cmd/todo-events -bin bin/todo-api -db "$db" -nats "$nats" -dir "$logs" -scenario "$s" \
    -restart-nats "TODO_DATA_DIR=$TODO_DATA_DIR scripts/nats.sh restart" \
    -restart-db "TODO_DATA_DIR=$TODO_DATA_DIR scripts/pg.sh stop && TODO_DATA_DIR=$TODO_DATA_DIR scripts/pg.sh start"
done
