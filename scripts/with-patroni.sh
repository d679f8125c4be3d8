#!/usr/bin/env bash
# Runs a command beside a highly available PostgreSQL: one etcd, two
# PostgreSQL 15 nodes managed by Patroni (synchronous_mode: a commit is
# acknowledged only once the standby has it; pg_rewind lets an old leader
# rejoin), and HAProxy in front, sending connections to whichever node
# Patroni's REST API calls the primary. Installs Debian's patroni,
# etcd-server and haproxy when missing (as root), starts everything under a
# temp dir, waits until there is a leader and a synchronous standby, runs
# the command, and stops only what it started, by PID.
#   scripts/with-patroni.sh go run ./cmd/todo-failover
# The command gets:
#   TODO_HA_URL        a multi-host URL of both nodes, target_session_attrs=read-write
#   TODO_HA_PROXY_URL  the same database through HAProxy
#   TODO_HA_DIR        the temp dir: <node>/data (its postmaster.pid), <node>.pid
#                      (Patroni's PID), <node>.yml, <node>.log
#   TODO_HA_NODES      "n1:<pg port>:<rest port> n2:..."
#   TODO_HA_START      a command that starts a node again: "$TODO_HA_START n1"
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/scripts/debian.sh"
need_debian /usr/bin/etcd etcd-server
need_debian /usr/bin/patroni patroni
need_debian /usr/sbin/haproxy haproxy
pgbin=$(ls -d /usr/lib/postgresql/15/bin 2>/dev/null || true)
[ -n "$pgbin" ] || { echo "with-patroni.sh: needs PostgreSQL 15 (apt-get install postgresql-15)" >&2; exit 1; }

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
next_free=24000
# free_port VAR: sets VAR to a port nothing listens on (and not given before).
free_port() {
  while listening "$next_free"; do next_free=$((next_free + 1)); done
  printf -v "$1" %s "$next_free"; next_free=$((next_free + 1))
}
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

dir=$(mktemp -d /tmp/todo-ha.XXXXXX)
chmod 755 "$dir"
[ "$(id -u)" != 0 ] || chown postgres: "$dir"
pids=()
cleanup() {
  set +e
  for f in "$dir"/*.pid; do [ -f "$f" ] && kill -TERM "$(cat "$f")" 2>/dev/null; done
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for _ in $(seq 50); do
    alive=0
    for f in "$dir"/*.pid; do [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && alive=1; done
    for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.2
  done
  # a postmaster whose Patroni was killed by the test is still ours
  for n in n1 n2; do
    pm=$(head -1 "$dir/$n/data/postmaster.pid" 2>/dev/null || true)
    [ -n "$pm" ] && kill -QUIT "$pm" 2>/dev/null
  done
  rm -rf "$dir"
}
trap cleanup EXIT
trap "exit 143" TERM INT

free_port etcd_client; free_port etcd_peer
as_postgres bash -c "etcd --name todo-ha --data-dir '$dir/etcd' \
  --listen-client-urls http://127.0.0.1:$etcd_client --advertise-client-urls http://127.0.0.1:$etcd_client \
  --listen-peer-urls http://127.0.0.1:$etcd_peer --initial-advertise-peer-urls http://127.0.0.1:$etcd_peer \
  --initial-cluster todo-ha=http://127.0.0.1:$etcd_peer >'$dir/etcd.log' 2>&1 & echo \$! >'$dir/etcd.pid'"

nodes=""
for n in n1 n2; do
  free_port pg; free_port rest
  nodes="$nodes $n:$pg:$rest"
  mkdir -p "$dir/$n"; chmod 700 "$dir/$n"
  cat >"$dir/$n.yml" <<YML
scope: todo-ha
name: $n
log: {level: WARNING}
restapi: {listen: "127.0.0.1:$rest", connect_address: "127.0.0.1:$rest"}
etcd3: {hosts: "127.0.0.1:$etcd_client"}
bootstrap:
  dcs:
    ttl: 10
    loop_wait: 1
    retry_timeout: 4
    maximum_lag_on_failover: 1048576
    synchronous_mode: true
    # a crashed primary fails over to the synchronous standby at once (which
    # has every acknowledged commit) rather than being restarted in place
    master_start_timeout: 0
    postgresql:
      use_pg_rewind: true
      use_slots: true
      parameters: {wal_log_hints: "on", max_wal_senders: 10, max_replication_slots: 10, max_connections: 200}
  initdb: [{encoding: UTF8}, {locale: C.UTF-8}]
  pg_hba:
    - local all all trust
    - host replication all 127.0.0.1/32 trust
    - host all all 127.0.0.1/32 trust
postgresql:
  listen: "127.0.0.1:$pg"
  connect_address: "127.0.0.1:$pg"
  data_dir: $dir/$n/data
  bin_dir: $pgbin
  pgpass: $dir/$n/pgpass
  authentication:
    superuser: {username: postgres, password: postgres}
    replication: {username: replicator, password: replicator}
    rewind: {username: postgres, password: postgres}
  parameters: {unix_socket_directories: "$dir/$n"}
YML
done
[ "$(id -u)" != 0 ] || chown -R postgres: "$dir"

# start_node N: Patroni for node N in the background, its PID in $dir/N.pid.
start_node() {
  as_postgres bash -c "patroni '$dir/$1.yml' >>'$dir/$1.log' 2>&1 & echo \$! >'$dir/$1.pid'"
}
cat >"$dir/start-node" <<SH
#!/usr/bin/env bash
$(declare -f as_postgres start_node)
dir=$dir
start_node "\$1"
SH
chmod +x "$dir/start-node"
start_node n1
sleep 2 # n1 bootstraps the cluster; n2 then joins it as a replica
start_node n2

rest_of() { local n; for n in $nodes; do [ "${n%%:*}" = "$1" ] && echo "${n##*:}"; done; }
echo "with-patroni.sh: waiting for a leader and a synchronous standby (logs in $dir)" >&2
for _ in $(seq 240); do
  cluster=$(curl -sf "http://127.0.0.1:$(rest_of n1)/cluster" || true)
  if grep -q '"role": *"leader"' <<<"$cluster" && grep -q '"role": *"sync_standby"' <<<"$cluster"; then
    break
  fi
  sleep 0.5
done
grep -q '"role": *"sync_standby"' <<<"${cluster:-}" || { echo "with-patroni.sh: no synchronous standby; logs:" >&2; tail -20 "$dir"/n*.log >&2; exit 1; }

free_port proxy
servers=""
for n in $nodes; do
  IFS=: read -r name pg rest <<<"$n"
  servers="$servers
  server $name 127.0.0.1:$pg check port $rest"
done
cat >"$dir/haproxy.cfg" <<CFG
global
  maxconn 1000
defaults
  mode tcp
  timeout connect 2s
  timeout client 30m
  timeout server 30m
  timeout check 2s
listen primary
  bind 127.0.0.1:$proxy
  option httpchk GET /primary
  http-check expect status 200
  default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions$servers
CFG
haproxy -f "$dir/haproxy.cfg" -db >"$dir/haproxy.log" 2>&1 &
pids+=($!)

hosts=""
for n in $nodes; do IFS=: read -r _ pg _ <<<"$n"; hosts="$hosts,127.0.0.1:$pg"; done
export TODO_HA_DIR="$dir" TODO_HA_NODES="${nodes# }" TODO_HA_START="$dir/start-node"
export TODO_HA_URL="postgres://postgres:postgres@${hosts#,}/postgres?sslmode=disable&target_session_attrs=read-write&connect_timeout=2"
export TODO_HA_PROXY_URL="postgres://postgres:postgres@127.0.0.1:$proxy/postgres?sslmode=disable&connect_timeout=2"
"$@"
