#!/usr/bin/env bash
# Configures and builds Nightjar. Environment:
#   BUILD_DIR   build directory (default: build)
#   BUILD_TYPE  CMake build type (default: RelWithDebInfo)
#   SANITIZE=1  AddressSanitizer + UndefinedBehaviorSanitizer build
#   FUZZ=1      also libFuzzer instrumentation and the fuzz targets (needs CC=clang CXX=clang++)
#   BUILD_TARGETS  build only these targets (space-separated); default: everything
#   CI=true     warnings are errors
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${BUILD_DIR:-build}
args=(-S . -B "$build_dir" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo})
command -v ninja >/dev/null && args+=(-G Ninja)
[[ "${CI:-}" == true ]] && args+=(-DNIGHTJAR_WERROR=ON)
[[ "${SANITIZE:-0}" == 1 ]] && args+=(-DNIGHTJAR_SANITIZE=ON)
[[ "${FUZZ:-0}" == 1 ]] && args+=(-DNIGHTJAR_FUZZ=ON)

# Reuse an existing build directory only if it was made with the same generator.
if [[ -f "$build_dir/CMakeCache.txt" ]] && ! grep -q "CMAKE_GENERATOR:INTERNAL=$(command -v ninja >/dev/null && echo Ninja || echo 'Unix Makefiles')" "$build_dir/CMakeCache.txt"; then
  rm -rf "$build_dir"
fi
cmake "${args[@]}" >/dev/null
targets=()
for t in ${BUILD_TARGETS:-}; do targets+=(--target "$t"); done
cmake --build "$build_dir" --parallel "$(nproc)" "${targets[@]}"
