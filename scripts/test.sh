#!/usr/bin/env bash
# Quick start, part 2: install what is missing, build, and run every test
# (unit and integration) through CTest. Environment as for scripts/build.sh;
# CTEST_ARGS adds arguments to ctest (e.g. CTEST_ARGS="-L unit").
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
build_dir=${BUILD_DIR:-build}
# shellcheck disable=SC2086
ctest --test-dir "$build_dir" --output-on-failure --parallel "$(nproc)" --timeout 300 ${CTEST_ARGS:-}
