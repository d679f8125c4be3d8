#!/usr/bin/env bash
# Load test of every case the performance figures in the README name (lists,
# searches, get, /auth/me, refresh with rotation, create, patch, a login
# flood with /auth/me asked meanwhile, paced and unpaced) for a heavy user
# (100,000 tasks, 50 tags), with wrk at 8 connections, against the static
# binary and the private PostgreSQL, and pgbench -S for scale at the start
# and the end. Loopback only; every run is bounded.
#
#   scripts/loadtest.sh            seed (first time), then measure
#   DURATION=20s scripts/loadtest.sh
#
# Needs wrk (Debian: apt-get install wrk). Prints requests/s, latency
# percentiles and the server's peak resident memory.
#
# One run of a case takes DURATION (10 s); the whole run about 4 minutes.
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
# Common words: the 3- and 4-letter pieces of the seeded vocabulary that
# 12-36 % of the tasks contain, most common first.
words=$(psql -qAt "$DATABASE_URL" <<'SQL'
WITH piece AS (
  SELECT DISTINCT substr(w, i, k) AS p
  FROM (SELECT regexp_split_to_table(string_agg(body, ' '), '\s+') AS w
        FROM (SELECT body FROM task_search ORDER BY task_id LIMIT 2000) AS s) AS ws,
       generate_series(1, 12) AS i, (VALUES (3), (4)) AS v(k)
  WHERE length(substr(w, i, k)) = k)
SELECT string_agg(p, ' ' ORDER BY n DESC)
FROM (SELECT p, (SELECT count(*) FROM task_search WHERE body LIKE '%' || p || '%') AS n FROM piece) AS c
WHERE n >= (SELECT count(*) FROM task_search) * 0.12;
SQL
)
common=${words%% *}

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
# Every request searches a different common word: each word in every mix of
# upper and lower case (q is case-insensitive: all match alike), shuffled,
# each sent at most once (about 1,000 of them), so no remembered total helps;
# the run lasts 4 s (wrk divides by the whole duration: a thread that ran out
# of words early would make the figure a lower bound). A write just before
# makes any total remembered earlier stale.
cat > "$lua/search.lua" <<LUA
local queries = {}
for w in string.gmatch("$words", "%S+") do
  for mask = 0, 2 ^ #w - 1 do
    local s = ""
    for i = 1, #w do
      local c = w:sub(i, i)
      if math.floor(mask / 2 ^ (i - 1)) % 2 == 1 then c = c:upper() end
      s = s .. c
    end
    queries[#queries + 1] = s
  end
end
math.randomseed(os.time())
for i = #queries, 2, -1 do
  local j = math.random(i)
  queries[i], queries[j] = queries[j], queries[i]
end
local sent, done = 0, 0
request = function()
  sent = sent + 1
  return wrk.format("GET", wrk.path .. "?q=" .. queries[((sent - 1) % #queries) + 1])
end
response = function()
  done = done + 1
  if done >= #queries then wrk.thread:stop() end
end
LUA
# Refresh with rotation: each thread has one connection and follows its own
# chain of refresh cookies (every answer's Set-Cookie is the next request's).
cat > "$lua/refresh.lua" <<'LUA'
local cookies, n = {}, 0
for line in io.lines(os.getenv("REFRESH_COOKIES")) do cookies[#cookies + 1] = line end
setup = function(thread) n = n + 1; thread:set("cookie", cookies[n]) end
request = function()
  return wrk.format("POST", nil, { ["Cookie"] = "refresh_token=" .. cookie })
end
response = function(status, headers)
  local c = headers["Set-Cookie"]
  if status == 200 and c then cookie = c:match("refresh_token=([^;]+)") end
end
LUA
# The flood logs in as a user registered through the API, so its password
# hash has the server's BCRYPT_COST (the seeded user's is cheaper).
cat > "$lua/login.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "username=flood@example.com&password=flood-password"
LUA

report() { # name wrk-output
  printf '%-30s %10s req/s   p50 %-8s p99 %-8s errors: %s\n' "$1" \
    "$(awk '/Requests\/sec/ {print $2}' <<<"$2")" \
    "$(awk '$1=="50%" {print $2}' <<<"$2")" "$(awk '$1=="99%" {print $2}' <<<"$2")" \
    "$(grep -Eo 'Non-2xx or 3xx responses: [0-9]+' <<<"$2" | awk '{print $NF}' || true)"
}
run() { # name path [script]
  local args=(-t1 -c8 -d"$duration" --latency -H "$auth")
  [ -n "${3:-}" ] && args+=(-s "$3")
  report "$1" "$(wrk "${args[@]}" "$base$2")"
}

echo "heavy user: $(psql -qAt "$DATABASE_URL" -c "SELECT count(*) FROM tasks") tasks; wrk -t1 -c8 -d$duration"
# The database's own speed in this sitting (a primary-key select, for
# scale), at the start and again at the end: this machine's speed drifts.
pgbench_tps() {
  command -v pgbench >/dev/null || { echo "-"; return; }
  PGOPTIONS='-c client_min_messages=warning' psql -q "$admin" -c "DROP DATABASE IF EXISTS todo_pgbench" -c "CREATE DATABASE todo_pgbench"
  local pgb; pgb=$(sed -E "s#^([a-z]+://[^/]*/)[^?]*#\1todo_pgbench#" <<<"$admin")
  pgbench -q -i -s 10 "$pgb" >/dev/null 2>&1
  pgbench -S -c8 -j2 -T"${duration%s}" "$pgb" 2>/dev/null | awk '/^tps/ {printf "%.0f", $3}'
  psql -q "$admin" -c "DROP DATABASE todo_pgbench"
}
echo "pgbench -S -c8 at the start: $(pgbench_tps) tps"
run "list default (-created_at)" "/tasks"
run "list pending by due_date" "/tasks?status=pending&sort=due_date"
run "list by tag" "/tasks?tag=$tag"
run "list newest first" "/tasks?sort=-created_at"
run "list q=$common (same search)" "/tasks?q=$common"
curl -sf -o /dev/null -X PATCH -H "$auth" -H 'Content-Type: application/json' -d '{"completed":true}' "$base/tasks/$task"
duration=4s run "list q=<new common word each>" "/tasks" "$lua/search.lua"
run "list q=zebra (no match)" "/tasks?q=zebra"
run "get one" "/tasks/$task"
run "auth/me" "/auth/me"
cookies="$lua/cookies"
for _ in $(seq 8); do
  curl -s -D - -o /dev/null "$base/auth/login" -d username=heavy@example.com -d password=heavy-password \
    | sed -n 's/^[Ss]et-[Cc]ookie: refresh_token=\([^;]*\);.*/\1/p' >> "$cookies"
done
report "refresh (rotating, 8 chains)" "$(REFRESH_COOKIES=$cookies wrk -t8 -c8 -d"$duration" --latency -s "$lua/refresh.lua" "$base/auth/refresh")"
run "patch completed" "/tasks/$task" "$lua/patch.lua"
run "create" "/tasks" "$lua/create.lua"
# A flood of correct logins (bcrypt at the server's BCRYPT_COST, 12 by
# default) with /auth/me asked at the same time by two connections.
curl -s -o /dev/null "$base/auth/register" -H 'Content-Type: application/json' \
  -d '{"email":"flood@example.com","password":"flood-password"}' # 201, or 409 from an earlier run
d=${duration%s}
# The flood's bound: cores / the CPU time of one comparison at the server's
# cost (the best of three short benchmark runs).
one=$(go test -run '^$' -bench '^BenchmarkMatches$' -benchtime 3x -count 3 ./internal/auth \
  | awk '/^BenchmarkMatches/ {print $3}' | sort -n | head -1)
bound=$(awk -v c="$(nproc)" -v ns="$one" 'BEGIN {printf "%.2f", c / (ns / 1e9)}')
echo "login flood's bound: $(nproc) cores / $(awk -v ns="$one" 'BEGIN {printf "%.3f", ns / 1e9}') s a comparison = $bound logins/s"
# The flood runs for twice the duration; its logins are counted in a window
# of the duration in its middle (the sessions they created, by creation
# time), with nothing else, then with /auth/me asked two ways: paced (two
# connections, a request every 10 ms each: a steady ~200 req/s, the CPU left
# to the logins), and as fast as two connections can (they take about a core
# themselves). wrk's own rate would count the flood's start and end, outside
# the probe.
cat > "$lua/paced.lua" <<'LUA'
function delay() return 10 end
LUA
for probe in none paced unpaced; do
  wrk -t1 -c16 -d"$(( 2 * d ))s" --timeout 30s -s "$lua/login.lua" "$base/auth/login" > "$lua/flood" &
  flood=$!
  sleep 4 # the flood under way
  t0=$(date +%s.%N)
  case $probe in
    none) sleep "$d" ;;
    paced) me=$(wrk -t1 -c2 -d"$duration" --latency -H "$auth" -s "$lua/paced.lua" "$base/auth/me") ;;
    unpaced) me=$(wrk -t1 -c2 -d"$duration" --latency -H "$auth" "$base/auth/me") ;;
  esac
  t1=$(date +%s.%N)
  wait $flood
  logins=$(psql -qAt "$DATABASE_URL" -c "SELECT count(*) FROM refresh_sessions AS s JOIN users AS u ON u.id = s.user_id
    WHERE u.email = 'flood@example.com' AND s.created_at >= to_timestamp($t0) AND s.created_at < to_timestamp($t1)")
  window=$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')
  rate=$(awk -v n="$logins" -v w="$window" 'BEGIN {printf "%.2f", n / w}')
  printf '%-30s %10s logins/s = %s x the bound (%s in %.1f s)   errors: %s\n' "login flood, /auth/me: $probe" \
    "$rate" "$(awk -v r="$rate" -v b="$bound" 'BEGIN {printf "%.2f", r / b}')" "$logins" "$window" \
    "$(grep -Eo 'Non-2xx or 3xx responses: [0-9]+' "$lua/flood" | awk '{print $NF}' || true)"
  [ "$probe" = none ] || report "  auth/me during it ($probe)" "$me"
done
echo "server peak RSS: $(awk '/VmHWM/ {print $2, $3}' /proc/$server/status)"
echo "pgbench -S -c8 at the end: $(pgbench_tps) tps"
# Remove what the run created. Row by row, the triggers (counters, the
# change feed, the search text) would take minutes for tens of thousands of
# tasks: delete without them (the private server's superuser may), then
# rebuild what they keep, for this database's one user; and the flood's
# sessions.
psql -q "$DATABASE_URL" <<'SQL'
SET session_replication_role = replica;
DELETE FROM changes AS c USING tasks AS t
  WHERE c.entity = 'task' AND c.entity_id = t.id AND c.user_id = t.user_id AND t.title = 'load test task';
DELETE FROM task_search AS s USING tasks AS t WHERE s.task_id = t.id AND t.title = 'load test task';
DELETE FROM tasks WHERE title = 'load test task';
SET session_replication_role = origin;
DELETE FROM refresh_sessions AS s USING users AS u WHERE s.user_id = u.id AND u.email = 'flood@example.com';
DELETE FROM task_counts;
INSERT INTO task_counts (user_id, completed, priority, n)
  SELECT user_id, completed, priority, count(*) FROM tasks GROUP BY 1, 2, 3;
VACUUM ANALYZE tasks;
VACUUM ANALYZE task_search;
VACUUM ANALYZE changes;
SQL
