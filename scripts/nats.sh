#!/usr/bin/env bash
# A private NATS server with JetStream on file storage, for development and
# tests, with its data under .data/.
#
#   scripts/nats.sh start    start it (data kept from earlier runs) and wait until
#                            it takes connections and JetStream is ready
#   scripts/nats.sh stop     stop it: SIGTERM, then SIGKILL after 10 s
#   scripts/nats.sh restart  stop, then start on the same port and the same data
#   scripts/nats.sh status   exit 0 when it is running
#   scripts/nats.sh url      print the nats:// URL
#
# Settings: TODO_NATS_PORT, TODO_NATS_MONITOR_PORT, TODO_DATA_DIR (default ./.data).
# Without TODO_NATS_PORT, the first start picks a free port from 24222 up and
# keeps it in .data/nats.port (the monitoring port, for the health check: from
# 28222 up, in .data/nats.monitor-port), so clones side by side each get their
# own server. JetStream's store is .data/nats/js, the log .data/nats.log, the
# pid file .data/nats/nats.pid; the server listens on 127.0.0.1 only.
# Needs nats-server; as root, installs Debian's package when it is missing.
# That package also enables a system service (on systemd hosts) on
# 127.0.0.1:4222 without JetStream: this server never uses that port's range,
# and nothing here talks to that one.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data_dir=${TODO_DATA_DIR:-$root/.data}
port=${TODO_NATS_PORT:-}
mport=${TODO_NATS_MONITOR_PORT:-}
dir=$data_dir/nats
store=$dir/js
pidfile=$dir/nats.pid
log=$data_dir/nats.log

die() { echo "nats.sh: $*" >&2; exit 1; }

# find_bin: nats-server on PATH, else Debian's (in /usr/sbin, which a normal
# user's PATH may lack); as root, installs Debian's package when neither is there.
find_bin() {
  bin=$(command -v nats-server 2>/dev/null || true)
  [ -n "$bin" ] && return 0
  bin=/usr/sbin/nats-server
  [ -x "$bin" ] && return 0
  if [ "$(id -u)" = 0 ]; then
    echo "nats.sh: installing nats-server (Debian package)" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nats-server >/dev/null \
      || die "apt-get install nats-server failed"
    [ -x "$bin" ] || die "no $bin after installing nats-server"
  else
    die "needs nats-server: sudo apt-get install nats-server (Debian), or put a nats-server binary (https://github.com/nats-io/nats-server/releases) on PATH"
  fi
}

pid() { [ -s "$pidfile" ] && cat "$pidfile"; }

# alive PID: the process exists and has not exited (a zombie has).
alive() { kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

# running: the pid file names a live nats-server (not a reused pid).
running() {
  local p
  p=$(pid) || return 1
  alive "$p" && [ "$(cat "/proc/$p/comm" 2>/dev/null)" = nats-server ]
}

listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pick VAR FILE FIRST [remember]: VAR's setting, else the port kept in FILE,
# else the first free one from FIRST (kept in FILE when asked to).
pick() {
  local -n v=$1
  [ -n "$v" ] && return 0
  if [ -s "$2" ]; then v=$(cat "$2"); return 0; fi
  v=$3
  while listening "$v"; do v=$((v + 1)); done
  [ "${4:-}" = remember ] && echo "$v" > "$2"
  return 0
}

# Below Linux's ephemeral range (32768-60999): a port there can be the local
# end of some outgoing connection, which no connect test sees but which makes
# the bind fail.
resolve_ports() {
  pick port "$data_dir/nats.port" 24222 "${1:-}"
  pick mport "$data_dir/nats.monitor-port" 28222 "${1:-}"
}

url() { echo "nats://127.0.0.1:$port"; }

# healthy: the client port takes connections and /healthz answers 200 (it
# answers 503 until JetStream is enabled and its streams are recovered).
healthy() {
  listening "$port" || return 1
  local status
  status=$( (exec 3<>"/dev/tcp/127.0.0.1/$mport" \
    && printf 'GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3 \
    && head -1 <&3) 2>/dev/null) || return 1
  [[ $status == *" 200"* ]]
}

start() {
  mkdir -p "$data_dir" "$store"
  resolve_ports remember
  if running; then return 0; fi
  listening "$port" && die "port $port is taken by another server; set TODO_NATS_PORT to a free port, or TEST_NATS_URL to use that server"
  listening "$mport" && die "monitoring port $mport is taken; set TODO_NATS_MONITOR_PORT to a free port"
  find_bin
  rm -f "$pidfile"
  echo "--- $(date '+%F %T') nats.sh start" >> "$log"
  # Its own session: a Ctrl-C meant for the command that started it does not
  # reach it; stop (or the wrapper that started it) ends it.
  setsid "$bin" -js -sd "$store" -a 127.0.0.1 -p "$port" -m "$mport" -P "$pidfile" \
    </dev/null >>"$log" 2>&1 &
  local child=$!
  for _ in $(seq 100); do # 10 s
    healthy && running && return 0
    alive "$child" || break
    sleep 0.1
  done
  kill "$child" 2>/dev/null || true
  # A port picked here that another socket took meanwhile: pick again, once.
  if [ -z "${retried:-}" ] && [ -z "${TODO_NATS_PORT:-}${TODO_NATS_MONITOR_PORT:-}" ] \
     && tail -n 5 "$log" | grep -q 'address already in use'; then
    retried=1
    rm -f "$data_dir/nats.port" "$data_dir/nats.monitor-port"
    port='' mport=''
    start
    return
  fi
  echo "nats.sh: nats-server did not become ready on 127.0.0.1:$port; the end of $log:" >&2
  tail -n 20 "$log" >&2
  exit 1
}

stop() {
  running || { rm -f "$pidfile"; return 0; }
  local p
  p=$(pid)
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 100); do # 10 s, then SIGKILL
    alive "$p" || { rm -f "$pidfile"; return 0; }
    sleep 0.1
  done
  echo "nats.sh: nats-server ($p) still running 10 s after SIGTERM; killing it" >&2
  kill -KILL "$p" 2>/dev/null || true
  for _ in $(seq 50); do alive "$p" || break; sleep 0.1; done
  rm -f "$pidfile"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) stop; start ;;
  status) running ;;
  url) resolve_ports; url ;;
  *) die "usage: scripts/nats.sh start|stop|restart|status|url" ;;
esac
