#!/usr/bin/env bash
# Runs redis-benchmark against shoal-server and against Debian's redis-server,
# on this machine, in one run, with the same flags, and prints a Markdown table
# of throughput, p50 latency, the ratio Shoal/Redis and each server's CPU time
# per request (user + system, all threads). See bench/README.md.
#
# Usage: bench/compare_redis.sh [options]
#   -n N            requests per test (default 300000)
#   --rounds R      runs per figure; the median is reported (default 3)
#   --clients C     redis-benchmark -c (default 50)
#   --shoal BIN     shoal-server binary (default build/bin/shoal-server)
#   --redis BIN     redis-server binary (default: redis-server on PATH)
#   --shoal-args A  extra flags for shoal-server, e.g. "--fsync no --i-accept-data-loss-on-crash"
#   --redis-args A  extra flags for redis-server, after the defaults (--save '' --appendonly no),
#                   so they override them, e.g. "--appendonly yes --appendfsync always"
#   -o FILE         also write the table to FILE
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=300000
ROUNDS=3
CLIENTS=50
SHOAL_BIN=build/bin/shoal-server
REDIS_BIN=$(command -v redis-server || echo /usr/bin/redis-server)
SHOAL_ARGS=""
REDIS_ARGS=""
OUT=""
# The fixed part of the comparison (issue 2): 64-byte values, 100k random keys.
DATA_SIZE=64
KEYSPACE=100000
PIPELINES=(1 16)

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while (($#)); do
  case $1 in
    -n) REQUESTS=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --shoal) SHOAL_BIN=$2; shift 2 ;;
    --redis) REDIS_BIN=$2; shift 2 ;;
    --shoal-args) SHOAL_ARGS=$2; shift 2 ;;
    --redis-args) REDIS_ARGS=$2; shift 2 ;;
    -o) OUT=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "unknown option: $1" >&2; usage 2 ;;
  esac
done
for bin in "$SHOAL_BIN" "$REDIS_BIN" "$(command -v redis-benchmark)" "$(command -v redis-cli)"; do
  [[ -x $bin ]] || { echo "compare_redis.sh: not executable: '$bin'" >&2; exit 2; }
done

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  # Stop only the servers this script started, by PID.
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_ready() {  # port pid
  for _ in $(seq 150); do
    kill -0 "$2" 2>/dev/null || { echo "server (pid $2) exited during start-up" >&2; return 1; }
    [[ $(redis-cli -p "$1" PING 2>/dev/null) == PONG ]] && return 0
    sleep 0.1
  done
  echo "server on port $1 did not answer PING within 15s" >&2
  return 1
}

SHOAL_PORT=$(free_port)
mkdir -p "$WORK/shoal" "$WORK/redis"
# shellcheck disable=SC2086  # SHOAL_ARGS is a list of flags
"$SHOAL_BIN" --port "$SHOAL_PORT" --bind 127.0.0.1 --data-dir "$WORK/shoal" \
  --log-level warn $SHOAL_ARGS >"$WORK/shoal.log" 2>&1 &
PIDS+=($!)
wait_ready "$SHOAL_PORT" "${PIDS[-1]}"

REDIS_PORT=$(free_port)
# Later flags override earlier ones, so REDIS_ARGS can turn persistence on.
# shellcheck disable=SC2086  # REDIS_ARGS is a list of flags
"$REDIS_BIN" --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
  --dir "$WORK/redis" --loglevel warning $REDIS_ARGS >"$WORK/redis.log" 2>&1 &
PIDS+=($!)
wait_ready "$REDIS_PORT" "${PIDS[-1]}"

# cpu_ticks <pid> -> user + system clock ticks of the process, all threads
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# bench <port> <pipeline> <pid> -> appends "test rps p50 cpu_us_per_request" lines
# (SET, GET) to stdout; the server's CPU time is read before and after each test.
bench() {
  local t before after line
  for t in set get; do
    before=$(cpu_ticks "$3")
    line=$(redis-benchmark -h 127.0.0.1 -p "$1" -c "$CLIENTS" -d "$DATA_SIZE" -r "$KEYSPACE" \
      -n "$REQUESTS" -P "$2" -t "$t" --csv 2>/dev/null |
      awk -F, 'NR > 1 { gsub(/"/, ""); print $1, $2, $5 }')
    after=$(cpu_ticks "$3")
    # No figures (a failed run) -> no line: the count check below reports it.
    [[ -n $line ]] || continue
    echo "$line $(awk -v a="$before" -v b="$after" -v n="$REQUESTS" -v hz="$(getconf CLK_TCK)" \
      'BEGIN { printf "%.2f", (b - a) * 1e6 / hz / n }')"
  done
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Rounds alternate between the servers so that both see the same machine noise.
for round in $(seq "$ROUNDS"); do
  for p in "${PIPELINES[@]}"; do
    echo "round $round/$ROUNDS, -P $p ..." >&2
    bench "$SHOAL_PORT" "$p" "${PIDS[0]}" | sed "s/^/shoal $p /" >>"$WORK/results"
    bench "$REDIS_PORT" "$p" "${PIDS[1]}" | sed "s/^/redis $p /" >>"$WORK/results"
  done
done

# Both servers must still be up, or the figures are meaningless.
for pid in "${PIDS[@]}"; do
  kill -0 "$pid" 2>/dev/null || { echo "a server died during the benchmark" >&2; exit 1; }
done

figure() {  # server pipeline test column(4=rps,5=p50,6=server CPU us per request)
  awk -v s="$1" -v p="$2" -v t="$3" -v c="$4" '$1 == s && $2 == p && $3 == t { print $c }' \
    "$WORK/results" | median
}

# Every run must have produced its figures (redis-benchmark prints nothing for
# a test whose replies it could not read).
expected_lines=$((ROUNDS * ${#PIPELINES[@]} * 2 * 2))
if [[ $(wc -l <"$WORK/results") -ne $expected_lines ]]; then
  echo "compare_redis.sh: expected $expected_lines results, got:" >&2
  cat "$WORK/results" >&2
  exit 1
fi

{
  echo "redis-benchmark \`-c $CLIENTS -d $DATA_SIZE -r $KEYSPACE -n $REQUESTS\`," \
       "median of $ROUNDS rounds; $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))," \
       "$("$REDIS_BIN" --version | awk '{ print $1, $3 }'), $(date -u +%Y-%m-%d)."
  echo "shoal-server flags: \`${SHOAL_ARGS:-(defaults)}\`; redis-server flags:" \
       "\`--save '' --appendonly no${REDIS_ARGS:+ $REDIS_ARGS}\`;" \
       "load average before the run: $LOAD_BEFORE, after: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "| test | -P | Shoal ops/s | Redis ops/s | Shoal/Redis | Shoal p50 ms | Redis p50 ms |" \
       "Shoal CPU us/op | Redis CPU us/op |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for t in SET GET; do
    for p in "${PIPELINES[@]}"; do
      s_rps=$(figure shoal "$p" "$t" 4); r_rps=$(figure redis "$p" "$t" 4)
      s_p50=$(figure shoal "$p" "$t" 5); r_p50=$(figure redis "$p" "$t" 5)
      s_cpu=$(figure shoal "$p" "$t" 6); r_cpu=$(figure redis "$p" "$t" 6)
      ratio=$(awk -v a="$s_rps" -v b="$r_rps" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "n/a" }')
      printf '| %s | %s | %.0f | %.0f | %s | %.3f | %.3f | %.2f | %.2f |\n' \
        "$t" "$p" "$s_rps" "$r_rps" "$ratio" "$s_p50" "$r_p50" "$s_cpu" "$r_cpu"
    done
  done
} | tee "$WORK/table.md"
[[ -z $OUT ]] || cp "$WORK/table.md" "$OUT"
