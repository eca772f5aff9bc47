#!/usr/bin/env bash
# A/B of server builds on a noisy machine: runs bench/cpu_budget.sh for each
# binary in turn, round after round, and prints every round and then each
# binary's medians (requests/s, the server's and redis-benchmark's CPU per
# request). Alternating spreads the machine's drift (10-20% within an hour
# here) over all binaries alike; compare medians, never single runs.
#
# Usage: bench/alternate.sh ROUNDS REQUESTS "SHOAL ARGS" BIN... [-- PIPELINE]
#   BIN is a shoal-server binary (copy it: the build may change under you),
#   or "redis" for redis-server (which gets no SHOAL ARGS). TEST=get for GETs.
# Example (session 15):
#   bench/alternate.sh 8 500000 "--fsync no --i-accept-data-loss-on-crash" /tmp/a /tmp/b redis
set -euo pipefail
ROUNDS=$1
REQUESTS=$2
SHOAL_ARGS=$3
shift 3
PIPELINE=1
BINS=()
while [[ $# -gt 0 ]]; do
  if [[ $1 == -- ]]; then
    PIPELINE=$2
    break
  fi
  BINS+=("$1")
  shift
done
HERE=$(dirname "$0")
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
for round in $(seq "$ROUNDS"); do
  for bin in "${BINS[@]}"; do
    args=$SHOAL_ARGS
    [[ $bin == redis ]] && args=""
    run=$(bash "$HERE/cpu_budget.sh" "$bin" "$args" "$PIPELINE" "$REQUESTS" 2>&1)
    rps=$(echo "$run" | head -1 | awk '{ print $5 }')
    server=$(echo "$run" | awk '/^server total/ { print $3 }')
    client=$(echo "$run" | awk '/^redis-benchmark:/ { print $2 }')
    echo "$round $bin $rps $server $client" | tee -a "$OUT"
  done
done
echo "medians over $ROUNDS rounds (requests/s, server us/request, redis-benchmark us/request):"
python3 - "$OUT" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    _, name, rps, server, client = line.split()
    runs[name].append((float(rps), float(server), float(client)))
for name, v in runs.items():
    med = [statistics.median(x[i] for x in v) for i in range(3)]
    print(f"  {name}: {med[0]:.0f}  {med[1]:.2f}  {med[2]:.2f}")
PY
