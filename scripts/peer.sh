#!/usr/bin/env bash
# `make peer`: the same load against todo-api and PocketBase v0.39.11 in one
# sitting, and the ratio table. PocketBase is built from the Go module proxy
# (scripts/peer, a module of its own, CGO off) and seeded with the same data
# as todo-api's heavy user (one user, 100,000 tasks, 50 tags, tag 1 on about
# 3,000 tasks; `bin/pocketbase seed`); todo-api runs on the private
# PostgreSQL with the seeded database of scripts/loadtest.sh. Each case runs
# wrk -t1 -c8 for a 2 s warm-up and DURATION (10 s) against one server, then
# the other; RUNS (1) repeats the whole table.
#
#   make peer                  DURATION=10s RUNS=1
#   RUNS=5 make peer
#
# Needs wrk (Debian: apt-get install wrk). Loopback only; every run bounded.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -n "${TEST_DATABASE_URL:-}" ] || exec "$root/scripts/with-pg.sh" "$0" "$@"
cd "$root"
duration=${DURATION:-10s}
runs=${RUNS:-1}
ours_port=${LOAD_PORT:-18000}
pb_port=${PEER_PORT:-18090}
command -v wrk >/dev/null || { echo "peer: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

# todo-api, on the load test's seeded database
admin=$TEST_DATABASE_URL
export DATABASE_URL; DATABASE_URL=$(sed -E "s#^([a-z]+://[^/]*/)[^?]*#\1todo_load#" <<<"$admin")
make -s build
if ! psql -qAt "$admin" -c "SELECT 1 FROM pg_database WHERE datname = 'todo_load'" | grep -q 1; then
  psql -q "$admin" -c "CREATE DATABASE todo_load"
  bin/todo-api migrate up
  go run ./cmd/todo-seed -tasks 100000 -tags 50
fi
bin/todo-api migrate up >/dev/null

# PocketBase, built and seeded once (.data/peer)
(cd scripts/peer && CGO_ENABLED=0 go build -trimpath -o "$root/bin/pocketbase" .)
pbdir=$root/.data/peer
if [ ! -f "$pbdir/seeded" ]; then
  rm -rf "$pbdir"
  bin/pocketbase seed --dir "$pbdir" && touch "$pbdir/seeded"
fi

export JWT_SECRET_KEY; JWT_SECRET_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
PORT=$ours_port DB_POOL_MAX=8 AUTH_RATE_LIMIT=0 REFRESH_RATE_LIMIT=0 LOG_LEVEL=warn METRICS_ADDR= SHUTDOWN_DELAY=0s \
  bin/todo-api serve &
ours=$!
bin/pocketbase serve --http "127.0.0.1:$pb_port" --dir "$pbdir" >"$pbdir/serve.log" 2>&1 &
pb=$!
lua=$(mktemp -d)
trap 'kill -TERM $ours $pb 2>/dev/null; wait $ours $pb 2>/dev/null || true; rm -rf "$lua"' EXIT
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$ours_port/readyz" >/dev/null && curl -sf "http://127.0.0.1:$pb_port/api/health" >/dev/null && break
  sleep 0.1
done

# todo-api's side
ob=http://127.0.0.1:$ours_port/api/v1
otoken=$(curl -sf "$ob/auth/login" -d username=heavy@example.com -d password=heavy-password | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
otag=$(psql -qAt "$DATABASE_URL" -c "SELECT name FROM tags ORDER BY id LIMIT 1")
# PocketBase's side
pbb=http://127.0.0.1:$pb_port/api
plogin=$(curl -sf "$pbb/collections/users/auth-with-password" -H 'Content-Type: application/json' \
  -d '{"identity":"heavy@example.com","password":"heavy-password"}')
ptoken=$(sed 's/.*"token":"\([^"]*\)".*/\1/' <<<"$plogin")
puser=$(grep -o '"record":{[^}]*"id":"[a-z0-9]*"' <<<"$plogin" | grep -o '"id":"[a-z0-9]*"' | cut -d'"' -f4)
ptag=$(curl -sf "$pbb/collections/tags/records?perPage=1&sort=created,id" -H "Authorization: $ptoken" | grep -o '"id":"[a-z0-9]*"' | head -1 | cut -d'"' -f4)

cat > "$lua/ours-create.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title":"load test task","description":"made by wrk","priority":"high","due_date":"2027-01-01T00:00:00Z"}'
LUA
cat > "$lua/pb-create.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title":"load test task","description":"made by wrk","priority":"high","due_date":"2027-01-01 00:00:00.000Z","user":"$puser"}'
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
cat > "$lua/post.lua" <<'LUA'
wrk.method = "POST"
LUA

# bench URL AUTH-HEADER [SCRIPT]: "req/s p99" after a 2 s warm-up
bench() {
  local args=(-t1 -c8 --latency -H "$2")
  [ -n "${3:-}" ] && args+=(-s "$3")
  wrk "${args[@]}" -d2s "$1" >/dev/null
  local out; out=$(wrk "${args[@]}" -d"$duration" "$1")
  local failed; failed=$(grep -Eo 'Non-2xx or 3xx responses: [0-9]+' <<<"$out" | awk '{print $NF}' || true)
  [ -z "$failed" ] || echo "  ($1: $failed answers were not 2xx: its rate is not a success rate)" >&2
  printf '%s %s' "$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")" "$(awk '$1=="99%" {print $2}' <<<"$out")"
}


echo "todo-api and PocketBase v0.39.11, one user of 100,000 tasks, wrk -t1 -c8, 2 s warm-up + $duration, $(date -u +%F)"
# The creates of a run would push the tagged tasks down the newest-first
# order of the next (and grow every list): each run starts from the seeded
# data on both sides.
unload() {
  psql -qAt "$DATABASE_URL" -c "DELETE FROM tasks WHERE title = 'load test task'" -c "VACUUM ANALYZE tasks" >/dev/null
  bin/pocketbase unload --dir "$pbdir"
}
for run in $(seq "$runs"); do
  unload
  # fresh tokens for each run (todo-api's last 15 minutes: a long sitting outlasts them)
  otoken=$(curl -sf "$ob/auth/login" -d username=heavy@example.com -d password=heavy-password | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
  ptoken=$(curl -sf "$pbb/collections/users/auth-with-password" -H 'Content-Type: application/json' \
    -d '{"identity":"heavy@example.com","password":"heavy-password"}' | sed 's/.*"token":"\([^"]*\)".*/\1/')
  # the PATCH's task: the newest seeded one (the load's creates are gone)
  otask=$(psql -qAt "$DATABASE_URL" -c "SELECT max(id) FROM tasks WHERE title <> 'load test task'")
  ptask=$(curl -sf "$pbb/collections/tasks/records?perPage=1&sort=-created&filter=(title!='load%20test%20task')" -H "Authorization: $ptoken" \
    | grep -o '"id":"[a-z0-9]*"' | head -1 | cut -d'"' -f4)
  # name | todo-api path [script] | PocketBase path [script]
  cases=(
    "default list|/tasks||/collections/tasks/records?page=1&perPage=20&sort=-created,id|"
    "pending by due date|/tasks?status=pending&sort=due_date||/collections/tasks/records?page=1&perPage=20&filter=(completed=false)&sort=due_date,id|"
    "newest first|/tasks?sort=-created_at||/collections/tasks/records?page=1&perPage=20&sort=-created,id|"
    "by tag|/tasks?tag=$otag||/collections/tasks/records?page=1&perPage=20&filter=(tags~'$ptag')&sort=-created,id|"
    "create, one user|/tasks|$lua/ours-create.lua|/collections/tasks/records|$lua/pb-create.lua"
    "PATCH completed|/tasks/$otask|$lua/patch.lua|/collections/tasks/records/$ptask|$lua/patch.lua"
    "refresh (ours rotating)|REFRESH||/collections/users/auth-refresh|$lua/post.lua"
    "/auth/me (PB: the user's record)|/auth/me||/collections/users/records/$puser|"
  )
  echo
  echo "run $run of $runs"
  printf '%-34s %18s %18s %8s\n' "case" "todo-api req/s p99" "PocketBase" "ratio"
  for c in "${cases[@]}"; do
    IFS='|' read -r name opath oscript ppath pscript <<<"$c"
    if [ "$opath" = REFRESH ]; then
      # our refresh rotates: 8 chains of cookies, one per connection
      cookies="$lua/cookies"; : >"$cookies"
      for _ in $(seq 8); do
        curl -s -D - -o /dev/null "$ob/auth/login" -d username=heavy@example.com -d password=heavy-password \
          | sed -n 's/^[Ss]et-[Cc]ookie: refresh_token=\([^;]*\);.*/\1/p' >> "$cookies"
      done
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
      out=$(REFRESH_COOKIES=$cookies wrk -t8 -c8 -d"$duration" --latency -s "$lua/refresh.lua" "$ob/auth/refresh")
      o="$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out") $(awk '$1=="99%" {print $2}' <<<"$out")"
    else
      o=$(bench "$ob$opath" "Authorization: Bearer $otoken" "$oscript")
    fi
    p=$(bench "$pbb$ppath" "Authorization: $ptoken" "$pscript")
    ratio=$(awk -v a="${o%% *}" -v b="${p%% *}" 'BEGIN {if (b > 0) printf "%.2f x", a / b; else print "-"}')
    printf '%-34s %9s %8s %9s %8s %8s\n' "$name" "${o%% *}" "${o##* }" "${p%% *}" "${p##* }" "$ratio"
  done
done
