#!/usr/bin/env bash
# Configures and builds Nightjar. Environment:
#   BUILD_DIR   build directory (default: build)
#   SANITIZE=1  AddressSanitizer + UndefinedBehaviorSanitizer build
#   CI=true     warnings are errors
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${BUILD_DIR:-build}
args=(-S . -B "$build_dir" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo})
command -v ninja >/dev/null && args+=(-G Ninja)
[[ "${CI:-}" == true ]] && args+=(-DNIGHTJAR_WERROR=ON)
[[ "${SANITIZE:-0}" == 1 ]] && args+=(-DNIGHTJAR_SANITIZE=ON)

# Reuse an existing build directory only if it was made with the same generator.
if [[ -f "$build_dir/CMakeCache.txt" ]] && ! grep -q "CMAKE_GENERATOR:INTERNAL=$(command -v ninja >/dev/null && echo Ninja || echo 'Unix Makefiles')" "$build_dir/CMakeCache.txt"; then
  rm -rf "$build_dir"
fi
cmake "${args[@]}" >/dev/null
cmake --build "$build_dir" --parallel "$(nproc)"
