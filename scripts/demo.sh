#!/usr/bin/env bash
# Installs dependencies, builds Shoal, starts a local 3-node cluster on
# loopback (64 shards, replication factor 3), and shows it working with
# `redis-cli -c`. The nodes keep running afterwards; the script prints how to
# connect and how to stop them. Running it again restarts the demo cluster
# from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE_PORT=${SHOAL_PORT:-7001}
DATA=${SHOAL_DATA:-/tmp/shoal-demo}
NODES=3

bash scripts/install-deps.sh
bash scripts/build.sh

# Stop a previous demo cluster (by the PIDs it recorded) and start afresh.
for i in $(seq $NODES); do
  pidfile=$DATA/node$i/shoal-server.pid
  if [[ -f $pidfile ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    echo "demo: stopping the previous demo node $i (pid $(cat "$pidfile"))"
    kill "$(cat "$pidfile")"
    for _ in $(seq 100); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
  fi
done
rm -rf "$DATA"

addrs=()
for i in $(seq $NODES); do
  port=$((BASE_PORT + i - 1))
  dir=$DATA/node$i
  mkdir -p "$dir"
  nohup build/bin/shoal-server --cluster-enabled yes --port "$port" --data-dir "$dir" \
    >"$dir/shoal-server.log" 2>&1 &
  echo $! >"$dir/shoal-server.pid"
  addrs+=("127.0.0.1:$port")
done
for i in $(seq $NODES); do
  port=$((BASE_PORT + i - 1))
  for _ in $(seq 100); do
    redis-cli -p "$port" PING >/dev/null 2>&1 && break
    sleep 0.1
  done
done
build/bin/shoal-cli cluster create --shards 64 --replicas 3 "${addrs[@]}"

run() {
  echo "redis-cli -c -p $BASE_PORT> $*"
  redis-cli -c -p "$BASE_PORT" "$@"
}
echo
echo "=== a 3-node Shoal cluster is up on 127.0.0.1:$BASE_PORT-$((BASE_PORT + NODES - 1)) ==="
run CLUSTER INFO | head -3
run SET greeting "hello from shoal"
run GET greeting
run INCR visits
run INCRBY visits 41
run SET session:1 token EX 60
run TTL session:1
run MSET '{user}:1' alice '{user}:2' bob
run MGET '{user}:1' '{user}:2' '{user}:3'
echo "--- the same key through another node (redis-cli -c follows MOVED):"
echo "redis-cli -c -p $((BASE_PORT + 2))> GET greeting"
redis-cli -c -p "$((BASE_PORT + 2))" GET greeting
echo "--- which node leads which slots (CLUSTER SLOTS, first 3 ranges):"
build/bin/shoal-cli cluster info "127.0.0.1:$BASE_PORT" | sed -n '/shards/,+3p'
echo
echo "Connect:  redis-cli -c -p $BASE_PORT    (any node: $BASE_PORT..$((BASE_PORT + NODES - 1)))"
echo "Logs:     $DATA/node*/shoal-server.log"
echo "Stop:     for f in $DATA/node*/shoal-server.pid; do kill \$(cat \$f); done"
