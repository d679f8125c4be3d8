#!/usr/bin/env bash
# Load test of the list, get, create and patch calls for a heavy user
# (100,000 tasks, 50 tags), with wrk at 8 connections, against the static
# binary and the private PostgreSQL. Loopback only; every run is bounded.
#
#   scripts/loadtest.sh            seed (first time), then measure
#   DURATION=20s scripts/loadtest.sh
#
# Needs wrk (Debian: apt-get install wrk). Prints requests/s, latency
# percentiles and the server's peak resident memory.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The test server: the private PostgreSQL unless TEST_DATABASE_URL or
# DATABASE_URL is set. The seeded database todo_load is kept for next time.
[ -n "${TEST_DATABASE_URL:-}" ] || exec "$root/scripts/with-pg.sh" "$0" "$@"
cd "$root"
duration=${DURATION:-10s}
port=${LOAD_PORT:-18000}
command -v wrk >/dev/null || { echo "loadtest: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

admin=$TEST_DATABASE_URL
export DATABASE_URL; DATABASE_URL=$(sed -E "s#^([a-z]+://[^/]*/)[^?]*#\1todo_load#" <<<"$admin")
make -s build
if ! psql -qAt "$admin" -c "SELECT 1 FROM pg_database WHERE datname = 'todo_load'" | grep -q 1; then
  psql -q "$admin" -c "CREATE DATABASE todo_load"
  bin/todo-api migrate up
  go run ./cmd/todo-seed -tasks 100000 -tags 50
fi
bin/todo-api migrate up >/dev/null

export JWT_SECRET_KEY; JWT_SECRET_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
PORT=$port AUTH_RATE_LIMIT=0 REFRESH_RATE_LIMIT=0 LOG_LEVEL=warn METRICS_ADDR= SHUTDOWN_DELAY=0s bin/todo-api serve &
server=$!
trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.1; done

base=http://127.0.0.1:$port/api/v1
token=$(curl -sf "$base/auth/login" -d username=heavy@example.com -d password=heavy-password \
  | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
tag=$(psql -qAt "$DATABASE_URL" -c "SELECT name FROM tags ORDER BY id LIMIT 1")
task=$(psql -qAt "$DATABASE_URL" -c "SELECT max(id) FROM tasks")
auth="Authorization: Bearer $token"

lua=$(mktemp -d); trap 'kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true; rm -rf "$lua"' EXIT
cat > "$lua/create.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title":"load test task","description":"made by wrk","priority":"high","due_date":"2027-01-01T00:00:00Z"}'
LUA
cat > "$lua/patch.lua" <<'LUA'
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  local body = (n % 2 == 0) and '{"completed":true}' or '{"completed":false}'
  return wrk.format("PATCH", nil, nil, body)
end
LUA

run() { # name path [script]
  local name=$1 path=$2 script=${3:-}
  local args=(-t2 -c8 -d"$duration" --latency -H "$auth")
  [ -n "$script" ] && args+=(-s "$script")
  local out; out=$(wrk "${args[@]}" "$base$path")
  printf '%-28s %10s req/s   p50 %-8s p99 %-8s errors: %s\n' "$name" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
    "$(awk '$1=="50%" {print $2}' <<<"$out")" "$(awk '$1=="99%" {print $2}' <<<"$out")" \
    "$(grep -Eo 'Non-2xx or 3xx responses: [0-9]+' <<<"$out" | awk '{print $NF}' || true)"
}

echo "heavy user: $(psql -qAt "$DATABASE_URL" -c "SELECT count(*) FROM tasks") tasks; wrk -t2 -c8 -d$duration"
run "list default (-created_at)" "/tasks"
run "list pending by due_date" "/tasks?status=pending&sort=due_date"
run "list by tag" "/tasks?tag=$tag"
run "list newest first" "/tasks?sort=-created_at"
run "list q=passport" "/tasks?q=passport"
run "list q=zebra (no match)" "/tasks?q=zebra"
run "get one" "/tasks/$task"
run "auth/me" "/auth/me"
run "create" "/tasks" "$lua/create.lua"
run "patch completed" "/tasks/$task" "$lua/patch.lua"
echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$server/status)"
# Remove what the run created. Row by row, the triggers (counters, the
# change feed) would take minutes for tens of thousands of tasks: delete
# without them (the private server's superuser may), then rebuild what they
# keep, for this database's one user.
psql -q "$DATABASE_URL" <<'SQL'
SET session_replication_role = replica;
DELETE FROM changes AS c USING tasks AS t
  WHERE c.entity = 'task' AND c.entity_id = t.id AND c.user_id = t.user_id AND t.title = 'load test task';
DELETE FROM tasks WHERE title = 'load test task';
SET session_replication_role = origin;
DELETE FROM task_counts;
INSERT INTO task_counts (user_id, completed, priority, n)
  SELECT user_id, completed, priority, count(*) FROM tasks GROUP BY 1, 2, 3;
VACUUM ANALYZE tasks;
VACUUM ANALYZE changes;
SQL
