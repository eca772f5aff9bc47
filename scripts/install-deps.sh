#!/usr/bin/env bash
# Installs everything Shoal needs to build, test and benchmark, from Debian 12's
# packages and the npm registry. Safe to run again. Must run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps.sh: run as root (it uses apt-get)" >&2
  exit 1
fi

PACKAGES=(
  # build
  build-essential cmake ninja-build ccache pkg-config clang clang-format libclang-rt-14-dev
  # libraries
  libasio-dev libcli11-dev libspdlog-dev libfmt-dev libgtest-dev libgmock-dev
  libbenchmark-dev librocksdb-dev libprotobuf-dev protobuf-compiler liblz4-dev
  libxxhash-dev libssl-dev libjemalloc-dev libabsl-dev
  # real peers and clients for tests and benchmarks
  redis-server redis-tools python3 python3-redis
  # bench/cpu_budget.sh: redis-benchmark's own CPU time (/usr/bin/time)
  time
  # failure injection
  iproute2 iptables procps
)

# Node.js and npm: take Debian's only when the machine has none (some images ship
# a newer Node.js whose package conflicts with Debian's npm).
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "install-deps.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Debian starts a redis-server service on install; Shoal's tests start their own
# redis-server on their own ports, so the system one is left alone but not needed.

# ioredis for the Node.js client tests (pinned in tests/clients/package.json).
if [[ -f tests/clients/package.json && ! -d tests/clients/node_modules/ioredis ]]; then
  (cd tests/clients && npm install --no-audit --no-fund --loglevel=error)
fi
echo "install-deps.sh: done"
