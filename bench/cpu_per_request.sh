#!/usr/bin/env bash
# One redis-benchmark SET run against a fresh server, printing its throughput
# and the server's CPU time per request (user + system, all threads, from
# /proc/PID/stat around the run, after a 100k-request warm-up). The figure
# session 4 used to compare builds on a noisy shared machine: run two
# binaries alternately several times and compare medians (docs/benchmarks.md).
#
# Usage: [TEST=get] bench/cpu_per_request.sh BIN "SERVER ARGS" [PIPELINE=16] [REQUESTS=300000]
#   BIN is a shoal-server binary, or "redis" for redis-server on PATH.
# Example:
#   for i in 1 2 3; do for b in /tmp/old /tmp/new; do
#     bench/cpu_per_request.sh $b "--fsync no --i-accept-data-loss-on-crash"; done; done
set -euo pipefail
BIN=$1
ARGS=${2:-}
PIPELINE=${3:-16}
REQUESTS=${4:-300000}
TEST=${TEST:-set}  # the redis-benchmark test: set or get
# shellcheck source=bench/one_server.sh
source "$(dirname "$0")/one_server.sh"
start_one_server "$BIN" "$ARGS"
bench() { redis-benchmark -p "$PORT" -c 50 -d 64 -r 100000 "$@" --csv 2>/dev/null; }
bench -n 100000 -P 16 -t set >/dev/null  # warm-up; also fills the keys a GET run reads
ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
before=$(ticks)
rps=$(bench -n "$REQUESTS" -P "$PIPELINE" -t "$TEST" | awk -F, 'NR > 1 { gsub(/"/, ""); print $2 }')
after=$(ticks)
echo "$(basename "$BIN") $TEST -P $PIPELINE rps=$rps cpu_us_per_request=$(awk -v a="$before" -v b="$after" \
  -v n="$REQUESTS" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) * 1e6 / hz / n }')"
