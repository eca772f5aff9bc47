#!/usr/bin/env bash
# Installs dependencies, builds, and runs Shoal's whole default test suite:
# unit tests, the Raft simulation seeds, the differential test against
# redis-server, real-client integration tests, hostile-input tests and a
# bounded fuzzing run. Ends with ctest's summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
cd build
# Two test processes at a time: the machine has 2 cores.
ctest --output-on-failure --timeout 1200 -j2 "$@"
