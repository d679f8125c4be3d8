#!/usr/bin/env bash
# `make e2e`: both browser tests (clients/typescript/e2e/run.mjs) and an outside
# MCP client (clients/typescript/e2e/mcp-client.mjs) against the
# static binary, on a throw-away database of the test server (scripts/with-pg.sh:
# the private PostgreSQL unless TEST_DATABASE_URL or DATABASE_URL is set).
# Installs what they need: Debian's chromium (as root, when missing) and the
# npm packages.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -n "${TEST_DATABASE_URL:-}" ] || exec "$root/scripts/with-pg.sh" "$0" "$@"
cd "$root"
port=${E2E_PORT:-8000} # and port + 1

. "$root/scripts/debian.sh"
need_debian /usr/bin/chromium chromium
make -s clients/typescript/node_modules

make -s build
admin=$TEST_DATABASE_URL
db=todo_e2e_$$
psql -q "$admin" -c "CREATE DATABASE $db"
export DATABASE_URL; DATABASE_URL=$(sed -E "s#^([a-z]+://[^/]*/)[^?]*#\1$db#" <<<"$admin")
servers=()
cleanup() {
  for s in "${servers[@]}"; do kill -TERM "$s" 2>/dev/null; wait "$s" 2>/dev/null || true; done
  psql -q "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true
}
trap cleanup EXIT
bin/todo-api migrate up >/dev/null
# Two servers on the same database: one as configured by default, for Swagger
# UI; one with a 3-second access token, so the client test meets
# TOKEN_EXPIRED and its refresh-and-retry. Rate limits are off on both.
export JWT_SECRET_KEY AUTH_RATE_LIMIT=0 REFRESH_RATE_LIMIT=0 BCRYPT_COST=4 LOG_LEVEL=warn METRICS_ADDR= SHUTDOWN_DELAY=0s
JWT_SECRET_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
PORT=$port bin/todo-api serve & servers+=($!)
PORT=$((port + 1)) ACCESS_TOKEN_TTL=3s bin/todo-api serve & servers+=($!)
for p in "$port" $((port + 1)); do
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$p/readyz" >/dev/null && break; sleep 0.1; done
done

API_URL=http://localhost:$port CLIENT_API_URL=http://localhost:$((port + 1)) ACCESS_TOKEN_TTL_MS=3000 \
  node clients/typescript/e2e/run.mjs
# An outside MCP client (the TypeScript SDK) against /mcp.
API_URL=http://localhost:$port node clients/typescript/e2e/mcp-client.mjs
