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
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
CC=clang CXX=clang++ SANITIZE=1 FUZZ=1 BUILD_DIR="${SAN_BUILD_DIR:-build-san}" \
  CTEST_ARGS="--label-exclude bench ${CTEST_ARGS:-}" exec bash scripts/test.sh
