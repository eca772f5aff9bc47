#!/usr/bin/env bash
# How long a SIGKILLed in-memory shoal-server takes to serve again, and its
# memory then: fills N SETs (-P 16, 64-byte values, 100k random keys), prints
# the resident size and the data directory's size, SIGKILLs the server by
# PID, restarts it on the same directory and prints the time to the first
# PONG, the key count, and the peak and current resident sizes a second
# later. See docs/durable-shards.md, "Memory-only compactions".
#
# Usage: bench/restart_replay.sh [N=550000] [BIN=build/bin/shoal-server] [EXTRA SERVER ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-550000}
BIN=${2:-build/bin/shoal-server}
shift $(($# < 2 ? $# : 2))
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
DIR=$(mktemp -d)
PID=""
cleanup() {  # only the server this script started, by PID
  [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$DIR"
}
trap cleanup EXIT
serve() {
  "$BIN" --port "$PORT" --bind 127.0.0.1 --data-dir "$DIR" --fsync no \
    --i-accept-data-loss-on-crash --log-level warn "$@" >>"$DIR.log" 2>&1 &
  PID=$!
  until [[ $(redis-cli -p "$PORT" PING 2>/dev/null) == PONG ]]; do
    kill -0 "$PID" 2>/dev/null || { echo "server exited; see $DIR.log" >&2; exit 1; }
    sleep 0.02
  done
}
serve "$@"
redis-benchmark -p "$PORT" -c 50 -d 64 -r 100000 -n "$N" -P 16 -t set >/dev/null 2>&1
echo "after $N SETs: $(grep VmRSS /proc/$PID/status | tr -s ' \t' ' '), data dir $(du -sh "$DIR" | cut -f1)"
redis-cli -p "$PORT" info stats | grep compactions | tr -d '\r'
kill -KILL "$PID"
wait "$PID" 2>/dev/null || true
t0=$(date +%s.%N)
serve "$@"
t1=$(date +%s.%N)
sleep 1
echo "restart to PONG: $(echo "$t1 - $t0" | bc) s, keys $(redis-cli -p "$PORT" dbsize)," \
  "$(grep VmHWM /proc/$PID/status | tr -s ' \t' ' '), $(grep VmRSS /proc/$PID/status | tr -s ' \t' ' ')"
rm -f "$DIR.log"
