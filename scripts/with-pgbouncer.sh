#!/usr/bin/env bash
# Runs a command with Debian's PgBouncer in transaction mode in front of the
# test server (TEST_DATABASE_URL, from scripts/with-pg.sh), and
# TEST_POOLER_ADDR set to it: the test pools then go through PgBouncer as a
# deployment with DB_TRANSACTION_POOLER=true does. Installs pgbouncer when
# missing (as root), runs it as the postgres user (it refuses root), and
# stops it afterwards.
#   scripts/with-pg.sh scripts/with-pgbouncer.sh go test ./...
set -euo pipefail
[ -n "${TEST_DATABASE_URL:-}" ] || { echo "with-pgbouncer.sh: run it under scripts/with-pg.sh" >&2; exit 1; }
bin=/usr/sbin/pgbouncer
. "$(dirname "${BASH_SOURCE[0]}")/debian.sh"
need_debian "$bin" pgbouncer

# The server's address, from the URL.
hostport=$(sed -E 's#^[a-z]+://[^@/]*@?([^/?]*).*#\1#' <<<"$TEST_DATABASE_URL")
pghost=${hostport%:*}; pgport=${hostport##*:}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=16432
while listening "$port"; do port=$((port + 1)); done

dir=$(mktemp -d /tmp/todo-pgbouncer.XXXXXX)
cat > "$dir/pgbouncer.ini" <<INI
[databases]
* = host=$pghost port=$pgport
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 20
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
INI
echo '"postgres" ""' > "$dir/userlist.txt"
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown -R postgres: "$dir"
as_postgres "$bin" -d "$dir/pgbouncer.ini"
stop() {
  [ -s "$dir/pgbouncer.pid" ] && kill "$(cat "$dir/pgbouncer.pid")" 2>/dev/null || true
  rm -rf "$dir"
}
trap stop EXIT
for _ in $(seq 50); do listening "$port" && break; sleep 0.1; done
listening "$port" || { echo "with-pgbouncer.sh: pgbouncer did not start; its log:" >&2; cat "$dir/pgbouncer.log" >&2; exit 1; }
echo "with-pgbouncer.sh: PgBouncer $("$bin" --version | head -1 | awk '{print $2}') in transaction mode on 127.0.0.1:$port" >&2
export TEST_POOLER_ADDR=127.0.0.1:$port
"$@"
