#!/usr/bin/env bash
# Builds everything with clang under AddressSanitizer and UndefinedBehaviorSanitizer
# (plus libFuzzer's coverage instrumentation, so the same build also holds the
# fuzz targets of tests/fuzz) and runs every unit and integration test in it.
# Then scripts/fuzz-smoke.sh can fuzz from the same build directory.
#
# Environment:
#   SAN_BUILD_DIR   build directory (default: build-san)
#   CI=true         warnings are errors
#   CTEST_ARGS      extra ctest arguments
set -euo pipefail
cd "$(dirname "$0")/.."
NIGHTJAR_FUZZ_DEPS=1 bash scripts/deps.sh

build_dir=${SAN_BUILD_DIR:-build-san}
args=(-S . -B "$build_dir" -G Ninja -DNIGHTJAR_FUZZ=ON -DNIGHTJAR_TESTS=ON
      -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo})
[[ "${CI:-}" == true ]] && args+=(-DNIGHTJAR_WERROR=ON)
CC=clang CXX=clang++ cmake "${args[@]}" >/dev/null
cmake --build "$build_dir" --parallel "$(nproc)"

# Every sanitizer report fails its test.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
# shellcheck disable=SC2086
ctest --test-dir "$build_dir" --output-on-failure --parallel "$(nproc)" --timeout 600 \
      --label-exclude bench ${CTEST_ARGS:-}
