#!/usr/bin/env bash
# Where a machine's CPU goes during one redis-benchmark run: the server's CPU
# time per request, per thread (by name: shoal-raft, shoal-io-N, shoal-sync,
# rocksdb:*; redis-server's main thread), redis-benchmark's own CPU time per
# request, and the share of the machine left idle. On 2 cores this tells
# whether a figure is bound by one thread (the raft loop near 100%) or by
# the machine (little idle left), and so what a change must cut
# (docs/benchmarks.md, "Session 12").
#
# Usage: [TEST=get] bench/cpu_budget.sh BIN "SERVER ARGS" [PIPELINE=16] [REQUESTS=2000000]
#   BIN is a shoal-server binary, or "redis" for redis-server on PATH.
# Example:
#   bench/cpu_budget.sh build/bin/shoal-server "--fsync no --i-accept-data-loss-on-crash"
#   bench/cpu_budget.sh redis ""
set -euo pipefail
BIN=$1
ARGS=${2:-}
PIPELINE=${3:-16}
REQUESTS=${4:-2000000}
TEST=${TEST:-set}
# shellcheck source=bench/one_server.sh
source "$(dirname "$0")/one_server.sh"
start_one_server "$BIN" "$ARGS"
bench() { redis-benchmark -p "$PORT" -c 50 -d 64 -r 100000 "$@"; }
bench -n 200000 -P 16 -t set >/dev/null 2>&1  # warm-up; fills the keys a GET run reads

# Per-thread CPU ticks: "tid name ticks" (the name may hold no spaces here).
threads() {
  for t in /proc/"$PID"/task/*; do
    echo "$(basename "$t") $(tr ' ' _ <"$t/comm") $(awk '{ print $14 + $15 }' "$t/stat")"
  done 2>/dev/null | sort
}
idle_total() { awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 }' /proc/stat; }
[[ -x /usr/bin/time ]] || { echo "cpu_budget.sh: needs /usr/bin/time (Debian's time)" >&2; exit 2; }
HZ=$(getconf CLK_TCK)
threads >"$DIR/before"
read -r IDLE0 TOTAL0 < <(idle_total)
# /usr/bin/time reports redis-benchmark's own user and system seconds.
OUT=$(/usr/bin/time -f "BENCHCPU %U %S" redis-benchmark -p "$PORT" -c 50 -d 64 -r 100000 \
  -n "$REQUESTS" -P "$PIPELINE" -t "$TEST" --csv 2>&1)
read -r IDLE1 TOTAL1 < <(idle_total)
threads >"$DIR/after"
RPS=$(echo "$OUT" | grep -v BENCHCPU | tail -1 | cut -d, -f2 | tr -d '"')
read -r BU BS < <(echo "$OUT" | awk '/BENCHCPU/ { print $2, $3 }')
SECONDS_RUN=$(awk -v n="$REQUESTS" -v r="$RPS" 'BEGIN { printf "%.3f", n / r }')

echo "$(basename "$BIN") $TEST -P $PIPELINE: $RPS requests/s over ${SECONDS_RUN} s"
echo "machine idle: $(awk -v a="$IDLE0" -v b="$TOTAL0" -v c="$IDLE1" -v d="$TOTAL1" \
  'BEGIN { printf "%.1f%%", 100 * (c - a) / (d - b) }')"
echo "redis-benchmark: $(awk -v u="$BU" -v s="$BS" -v n="$REQUESTS" \
  'BEGIN { printf "%.2f", (u + s) * 1e6 / n }') us of CPU per request"
# Threads that started during the run (RocksDB's flush and compaction threads
# start on demand) count from 0.
join -a 2 -e 0 -o 0,2.2,1.3,2.3 "$DIR/before" "$DIR/after" |
  awk -v n="$REQUESTS" -v hz="$HZ" -v secs="$SECONDS_RUN" '
  { d = $4 - $3; total += d
    if (d > 0) printf "  %-16s %6.2f us/request  %4.0f%% of a core\n", $2, d * 1e6 / hz / n, 100 * d / hz / secs }
  END { printf "server total: %.2f us of CPU per request\n", total * 1e6 / hz / n }'
