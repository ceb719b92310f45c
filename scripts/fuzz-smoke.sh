#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) in their own build directory and
# fuzzes each one for a short time. Exits non-zero if any target finds a crash,
# a leak, a timeout or a sanitizer report.
#
# Environment:
#   FUZZ_BUILD_DIR  build directory (default: build-fuzz in the repository root;
#                   a relative path is taken from the current directory)
#   FUZZ_SECONDS    seconds to fuzz each target (default: 20)
#
# Each target gets a fresh working corpus, seeded from tests/fuzz/corpus/<name>,
# and an artifact directory, both under $FUZZ_BUILD_DIR/fuzz-smoke/<name>; the
# source tree is never written to. Needs clang, libFuzzer and Ninja.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
fuzz_seconds="${FUZZ_SECONDS:-20}"

if ! [[ "$fuzz_seconds" =~ ^[0-9]+$ ]] || [[ "$fuzz_seconds" -eq 0 ]]; then
  echo "fuzz-smoke: FUZZ_SECONDS must be a positive integer, not '$fuzz_seconds'" >&2
  exit 2
fi
mkdir -p "$build_dir"
build_dir="$(cd "$build_dir" && pwd)"

# A build directory already configured for fuzzing (e.g. scripts/sanitize.sh's,
# which also holds the tests) is reused as it is.
if ! grep -q "^NIGHTJAR_FUZZ:BOOL=ON" "$build_dir/CMakeCache.txt" 2>/dev/null; then
  echo "== configuring $build_dir"
  CC=clang CXX=clang++ cmake -S "$root" -B "$build_dir" -G Ninja \
    -DNIGHTJAR_FUZZ=ON -DNIGHTJAR_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
echo "== building the fuzz targets"
cmake --build "$build_dir" --target nightjar_fuzz

# UBSan only prints by default; make every report fatal so it counts as a crash.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

work_root="$build_dir/fuzz-smoke"
shopt -s nullglob
targets=("$build_dir"/bin/fuzz_*)
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "fuzz-smoke: no fuzz targets in $build_dir/bin" >&2
  exit 1
fi

failed=()
for exe in "${targets[@]}"; do
  [[ -f "$exe" && -x "$exe" ]] || continue
  name="${exe##*/fuzz_}"
  work="$work_root/$name"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  seeds="$root/tests/fuzz/corpus/$name"
  if [[ -d "$seeds" ]]; then
    find "$seeds" -maxdepth 1 -type f -exec cp -t "$work/corpus" {} +
  else
    echo "fuzz-smoke: warning: no seed corpus at $seeds" >&2
  fi
  seed_count=$(find "$work/corpus" -type f | wc -l)

  echo "== fuzz_$name: ${fuzz_seconds}s from $seed_count seeds (log: $work/fuzz.log)"
  status=0
  (cd "$work" && "$exe" \
      -max_total_time="$fuzz_seconds" \
      -max_len=4096 \
      -timeout=25 \
      -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/" \
      "$work/corpus") >"$work/fuzz.log" 2>&1 || status=$?

  artifacts=("$work"/artifacts/*)
  if [[ $status -ne 0 || ${#artifacts[@]} -gt 0 ]]; then
    echo "!! fuzz_$name FAILED (exit status $status); last lines of its log:" >&2
    tail -n 60 "$work/fuzz.log" >&2
    for a in "${artifacts[@]}"; do
      echo "!! artifact: $a" >&2
      echo "!!   reproduce: $exe $a" >&2
    done
    failed+=("fuzz_$name")
  else
    # One summary line: runs, coverage, corpus size.
    grep -E '^#[0-9]+.*DONE' "$work/fuzz.log" | tail -n 1 || true
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
      "$work/fuzz.log" | tr '\n' ' ' || true
    echo
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz-smoke: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz-smoke: all ${#targets[@]} targets ran ${fuzz_seconds}s each without findings"
