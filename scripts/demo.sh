#!/usr/bin/env bash
# Installs dependencies, builds Shoal, starts a local shoal-server and shows it
# working with a short redis-cli session. The server keeps running afterwards;
# the script prints how to connect and how to stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
PORT=${SHOAL_PORT:-7379}
DATA=${SHOAL_DATA:-/tmp/shoal-demo}
PIDFILE=$DATA/shoal-server.pid

bash scripts/install-deps.sh
bash scripts/build.sh

mkdir -p "$DATA"
if [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  echo "demo: stopping the previous demo server (pid $(cat "$PIDFILE"))"
  kill "$(cat "$PIDFILE")"
  for _ in $(seq 50); do kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break; sleep 0.1; done
fi
nohup build/bin/shoal-server --port "$PORT" --data-dir "$DATA" >"$DATA/shoal-server.log" 2>&1 &
echo $! >"$PIDFILE"
for _ in $(seq 50); do
  redis-cli -p "$PORT" PING >/dev/null 2>&1 && break
  sleep 0.1
done

run() {
  echo "redis-cli> $*"
  redis-cli -p "$PORT" "$@"
}
echo
echo "=== shoal-server is up on 127.0.0.1:$PORT (pid $(cat "$PIDFILE")) ==="
run PING
run SET greeting "hello from shoal"
run GET greeting
run INCR visits
run INCRBY visits 41
run SET session:1 token EX 60
run TTL session:1
run MSET user:1 alice user:2 bob
run MGET user:1 user:2 user:3
run DBSIZE
run INFO keyspace
echo
echo "Connect:  redis-cli -p $PORT"
echo "Logs:     $DATA/shoal-server.log"
echo "Stop:     kill \$(cat $PIDFILE)"
