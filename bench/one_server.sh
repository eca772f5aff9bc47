# shellcheck shell=bash
# Sourced by the single-server benchmark scripts (cpu_per_request.sh,
# cpu_budget.sh): starts one server for them and stops it when they exit.
#
#   start_one_server BIN "ARGS"
# BIN is a shoal-server binary, or "redis" for redis-server on PATH. Sets
# DIR (its fresh data directory), PORT (a free loopback port) and PID, waits
# for PING to answer, and installs an EXIT trap that stops only that server,
# by PID, and removes DIR. Exits with the server's log if it stops starting.

start_one_server() {
  local bin=$1 args=$2
  DIR=$(mktemp -d)
  PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # shellcheck disable=SC2086  # args is a list of flags
  if [[ $bin == redis ]]; then
    redis-server --port "$PORT" --bind 127.0.0.1 --dir "$DIR" --save '' $args >"$DIR/log" 2>&1 &
  else
    "$bin" --port "$PORT" --bind 127.0.0.1 --data-dir "$DIR" --log-level warn $args \
      >"$DIR/log" 2>&1 &
  fi
  PID=$!
  trap stop_one_server EXIT
  for _ in $(seq 100); do
    [[ $(redis-cli -p "$PORT" PING 2>/dev/null) == PONG ]] && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "the server did not start:" >&2
  cat "$DIR/log" >&2
  exit 1
}

stop_one_server() {
  kill "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  rm -rf "$DIR"
}
