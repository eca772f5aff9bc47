#!/usr/bin/env bash
# How long the raft loop stops for a compaction snapshot of the memory engine:
# fills KEYS keys of 64 bytes (SET -P 16), then overwrites them twice as often
# (a compaction every ~KEYS writes) and prints redis-benchmark's latency
# figures (max is the stall), for --snapshot-in-child yes and no in one run.
# See docs/durable-shards.md, "Compaction snapshots in a child process".
#
# Usage: bench/snapshot_stall.sh [KEYS=1000000] [BIN=build/bin/shoal-server]
set -euo pipefail
cd "$(dirname "$0")/.."
KEYS=${1:-1000000}
BIN=${2:-build/bin/shoal-server}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
PID=""
DIR=""
cleanup() {  # only the server this script started, by PID
  [[ -n $PID ]] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  [[ -n $DIR ]] && rm -rf "$DIR"
  PID=""
  DIR=""
}
trap cleanup EXIT
echo "| --snapshot-in-child | phase | SET/s | avg ms | p50 ms | p99 ms | max ms |"
echo "|---|---|---:|---:|---:|---:|---:|"
for child in yes no; do
  DIR=$(mktemp -d)
  "$BIN" --port "$PORT" --bind 127.0.0.1 --data-dir "$DIR" --log-level warn \
    --snapshot-in-child "$child" >"$DIR.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do
    [[ $(redis-cli -p "$PORT" PING 2>/dev/null) == PONG ]] && break
    sleep 0.1
  done
  for phase in fill overwrite; do
    [[ $phase == fill ]] && n=$((KEYS * 3)) || n=$((KEYS * 2))
    redis-benchmark -p "$PORT" -c 50 -d 64 -r "$KEYS" -n "$n" -P 16 -t set --csv 2>/dev/null |
      awk -F, -v c="$child" -v p="$phase" 'NR > 1 { gsub(/"/, ""); printf "| %s | %s | %d | %s | %s | %s | %s |\n", c, p, $2, $3, $5, $7, $8 }'
  done
  rm -f "$DIR.log"
  cleanup
done
