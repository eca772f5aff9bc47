#!/usr/bin/env bash
# User-space instructions a shoal-server executes per request, counted by
# callgrind over a redis-benchmark run: a measure of the server's own code
# that machine noise barely moves (timings here move 10-15% within an hour;
# one binary counted 11,341 and 11,315 in two runs). It says nothing about
# kernel time, which is most of a -P 1 request (docs/benchmarks.md,
# "Session 15").
#
# Usage: bench/instructions_per_request.sh BIN ["SERVER ARGS"] [TEST=set] [REQUESTS=50000]
#   BIN is a shoal-server binary, or "redis" for redis-server on PATH.
# Example:
#   bench/instructions_per_request.sh build/bin/shoal-server "--fsync no --i-accept-data-loss-on-crash"
# The server runs under valgrind (about 15x slower), so the run is short; the
# counts are of every thread, after a -P 16 warm-up that fills the keys.
# CALLGRIND_OPTS="--cache-sim=yes" adds simulated cache misses (D1mr, DLmr,
# ...: first level and last level, read and write) per request.
set -euo pipefail
BIN=$1
ARGS=${2:-}
TEST=${3:-set}
REQUESTS=${4:-50000}
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 2; }
DIR=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
# shellcheck disable=SC2086  # ARGS is a list of flags
if [[ $BIN == redis ]]; then
  valgrind --tool=callgrind ${CALLGRIND_OPTS:-} --callgrind-out-file="$DIR/out" redis-server --port "$PORT" \
    --bind 127.0.0.1 --dir "$DIR" --save '' $ARGS >"$DIR/log" 2>&1 &
else
  valgrind --tool=callgrind ${CALLGRIND_OPTS:-} --callgrind-out-file="$DIR/out" "$BIN" --port "$PORT" \
    --bind 127.0.0.1 --data-dir "$DIR/data" --log-level warn $ARGS >"$DIR/log" 2>&1 &
fi
VG=$!
cleanup() {
  kill "$VG" 2>/dev/null || true
  wait "$VG" 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT
for _ in $(seq 120); do
  redis-cli -p "$PORT" PING >/dev/null 2>&1 && break
  kill -0 "$VG" 2>/dev/null || { cat "$DIR/log" >&2; exit 1; }
  sleep 0.5
done
bench() { redis-benchmark -p "$PORT" -c 50 -d 64 -r 100000 "$@" --csv >/dev/null; }
bench -n 100000 -P 16 -t set
callgrind_control -z "$VG" >/dev/null 2>&1
bench -n "$REQUESTS" -P 1 -t "$TEST"
callgrind_control -d "$VG" >/dev/null 2>&1
TOTALS=$(callgrind_annotate --auto=no "$DIR"/out.* 2>/dev/null)
EVENTS=$(echo "$TOTALS" | awk '/^Events recorded:/ { $1 = ""; $2 = ""; print }')
COUNTS=$(echo "$TOTALS" | awk '/PROGRAM TOTALS/ { for (i = 1; i < NF; i++) if ($i ~ /^[0-9,]+$/) { gsub(",", "", $i); printf "%s ", $i } }')
read -r -a names <<<"$EVENTS"
read -r -a values <<<"$COUNTS"
line="$(basename "$BIN") $TEST -P 1, per request:"
for i in "${!names[@]}"; do
  line+=" ${names[$i]} $((${values[$i]:-0} / REQUESTS))"
done
echo "$line"
