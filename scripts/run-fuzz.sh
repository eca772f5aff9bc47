#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and runs
# each for a bounded time. Exits non-zero if any target crashes, leaks, times
# out or breaks an invariant; the input that did it is saved under
# build-fuzz/artifacts/ and the command to replay it is printed.
#
# Usage: scripts/run-fuzz.sh [seconds-per-target]   (default 60)
# The last line of output is "<n> passed, <m> failed".
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${1:-60}
if ! [[ $SECONDS_PER_TARGET =~ ^[0-9]+$ ]] || ((SECONDS_PER_TARGET < 1)); then
  echo "usage: $0 [seconds-per-target]" >&2
  exit 2
fi
BUILD=build-fuzz
# target name -> committed seed corpus, and its dictionary
declare -A TARGETS=(
  [resp_request_parser_fuzzer]=fuzz/corpus/resp
)
declare -A DICTS=(
  [resp_request_parser_fuzzer]=fuzz/resp.dict
)

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Unit tests and the server are not needed here; only the fuzz targets.
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
  -DSHOAL_FUZZ=ON -DSHOAL_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C "$BUILD" "${!TARGETS[@]}"
mkdir -p "$BUILD/artifacts"

passed=0
failed=0
for target in "${!TARGETS[@]}"; do
  seeds=${TARGETS[$target]}
  # New inputs go to a scratch corpus; the committed seeds are only read.
  mkdir -p "$WORK/$target"
  echo "=== $target: fuzzing for ${SECONDS_PER_TARGET}s (seeds: $seeds)"
  # The outer timeout is a backstop in case libFuzzer itself hangs.
  if timeout --signal=KILL $((SECONDS_PER_TARGET + 120)) \
      "$BUILD/bin/$target" \
      -max_total_time="$SECONDS_PER_TARGET" -max_len=4096 -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -dict="${DICTS[$target]}" \
      -artifact_prefix="$BUILD/artifacts/$target-" \
      "$WORK/$target" "$seeds"; then
    echo "=== $target: PASSED"
    passed=$((passed + 1))
  else
    echo "=== $target: FAILED; replay with: $BUILD/bin/$target $BUILD/artifacts/$target-<crash-file>"
    ls -1 "$BUILD/artifacts" | sed "s|^|    $BUILD/artifacts/|" || true
    failed=$((failed + 1))
  fi
done

echo "$passed passed, $failed failed"
((failed == 0))
