#!/usr/bin/env bash
# Fuzzes every libFuzzer target of tests/fuzz for SECONDS each, one after the
# other (the machines have 2 shared cores), and prints a table: target,
# executions, executions per second, corpus size at the end, and findings
# (crashes, leaks, timeouts, out-of-memory, other failures), then one final
# line. Exits 1 on any finding, 2 on a usage error.
#
#   bash scripts/fuzz.sh [SECONDS] [NAME...]      # e.g. scripts/fuzz.sh 60 onion_peel wire
#
# NAME picks targets (fuzz_NAME); without one, every target runs. SECONDS
# defaults to $FUZZ_SECONDS, else 20.
#
# Environment:
#   FUZZ_BUILD_DIR  build directory (default: build-fuzz in the repository root;
#                   a relative path is taken from the current directory). One
#                   already configured with -DNIGHTJAR_FUZZ=ON (scripts/sanitize.sh's
#                   build-san) is reused as it is; otherwise it is configured
#                   with clang, fuzz targets only.
#   FUZZ_SECONDS    seconds per target when SECONDS is not given (default 20)
#   FUZZ_MAX_LEN    libFuzzer -max_len (default 4096)
#
# Each target gets a fresh working corpus, seeded from tests/fuzz/corpus/<name>,
# and an artifact directory, both under $FUZZ_BUILD_DIR/fuzz-smoke/<name>
# (with its log, fuzz.log); the source tree is never written to. A finding is
# an artifact libFuzzer wrote (crash-*, leak-*, timeout-*, oom-*) or a run
# that ended with a failure status; the table names its kind, and the lines
# after it name each artifact with the command that reproduces it.
# scripts/fuzz-smoke.sh (CI) is this script with FUZZ_SECONDS.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${FUZZ_BUILD_DIR:-$root/build-fuzz}"
fuzz_seconds="${FUZZ_SECONDS:-20}"
max_len="${FUZZ_MAX_LEN:-4096}"

usage() {
  echo "usage: scripts/fuzz.sh [SECONDS] [TARGET-NAME...]" >&2
  exit 2
}
case "${1:-}" in
  -h | --help) sed -n '2,28p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
  -*) usage ;;
esac
if [[ $# -gt 0 && "$1" =~ ^[0-9]+$ ]]; then
  fuzz_seconds="$1"
  shift
fi
if ! [[ "$fuzz_seconds" =~ ^[0-9]+$ ]] || [[ "$fuzz_seconds" -eq 0 ]]; then
  echo "fuzz: SECONDS (or FUZZ_SECONDS) must be a positive integer, not '$fuzz_seconds'" >&2
  exit 2
fi
wanted=("$@")

mkdir -p "$build_dir"
build_dir="$(cd "$build_dir" && pwd)"

if ! grep -q "^NIGHTJAR_FUZZ:BOOL=ON" "$build_dir/CMakeCache.txt" 2>/dev/null; then
  echo "== configuring $build_dir"
  CC=clang CXX=clang++ cmake -S "$root" -B "$build_dir" -G Ninja \
    -DNIGHTJAR_FUZZ=ON -DNIGHTJAR_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
echo "== building the fuzz targets"
if [[ ${#wanted[@]} -gt 0 ]]; then
  build_targets=()
  for name in "${wanted[@]}"; do build_targets+=("fuzz_$name"); done
  cmake --build "$build_dir" --target "${build_targets[@]}"
else
  cmake --build "$build_dir" --target nightjar_fuzz
fi

# UBSan only prints by default; make every report fatal so it counts as a crash.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}"

shopt -s nullglob
targets=()
if [[ ${#wanted[@]} -gt 0 ]]; then
  for name in "${wanted[@]}"; do
    exe="$build_dir/bin/fuzz_$name"
    [[ -x "$exe" ]] || { echo "fuzz: no target fuzz_$name in $build_dir/bin" >&2; exit 2; }
    targets+=("$exe")
  done
else
  for exe in "$build_dir"/bin/fuzz_*; do
    [[ -f "$exe" && -x "$exe" ]] && targets+=("$exe")
  done
fi
if [[ ${#targets[@]} -eq 0 ]]; then
  echo "fuzz: no fuzz targets in $build_dir/bin" >&2
  exit 1
fi

# The value of "stat::NAME: VALUE" in a libFuzzer log (-print_final_stats=1).
final_stat() { sed -n "s/^stat::$2: *//p" "$1" | tail -n 1; }

work_root="$build_dir/fuzz-smoke"
rows=()
findings_total=0
executions_total=0
failed=()
reproduce=()
for exe in "${targets[@]}"; do
  name="${exe##*/fuzz_}"
  work="$work_root/$name"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  seeds="$root/tests/fuzz/corpus/$name"
  if [[ -d "$seeds" ]]; then
    find "$seeds" -maxdepth 1 -type f -exec cp -t "$work/corpus" {} +
  else
    echo "fuzz: warning: no seed corpus at $seeds" >&2
  fi
  seed_count=$(find "$work/corpus" -maxdepth 1 -type f | wc -l)
  echo "== fuzz_$name: ${fuzz_seconds}s from $seed_count seeds (log: $work/fuzz.log)"

  status=0
  (cd "$work" && "$exe" \
      -max_total_time="$fuzz_seconds" \
      -max_len="$max_len" \
      -timeout=25 \
      -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/" \
      "$work/corpus") >"$work/fuzz.log" 2>&1 || status=$?

  executions=$(final_stat "$work/fuzz.log" number_of_executed_units)
  per_second=$(final_stat "$work/fuzz.log" average_exec_per_sec)
  corpus=$(find "$work/corpus" -maxdepth 1 -type f | wc -l)
  crashes=0 leaks=0 timeouts=0 ooms=0 other=0
  artifacts=("$work"/artifacts/*)
  for a in "${artifacts[@]}"; do
    case "${a##*/}" in
      crash-*) crashes=$((crashes + 1)) ;;
      leak-*) leaks=$((leaks + 1)) ;;
      timeout-*) timeouts=$((timeouts + 1)) ;;
      oom-*) ooms=$((ooms + 1)) ;;
      *) other=$((other + 1)) ;;
    esac
    reproduce+=("fuzz_$name: $a  (reproduce: $exe $a)")
  done
  # A failure status with no artifact (e.g. the target did not start) is a finding too.
  [[ $status -ne 0 && ${#artifacts[@]} -eq 0 ]] && other=$((other + 1))
  found=$((crashes + leaks + timeouts + ooms + other))
  if [[ $found -gt 0 ]]; then
    failed+=("fuzz_$name")
    echo "!! fuzz_$name: $found finding(s), exit status $status; last lines of its log:" >&2
    tail -n 40 "$work/fuzz.log" >&2
    summary="crashes $crashes, leaks $leaks, timeouts $timeouts"
    [[ $ooms -gt 0 ]] && summary+=", oom $ooms"
    [[ $other -gt 0 ]] && summary+=", other $other"
  else
    summary="none"
  fi
  findings_total=$((findings_total + found))
  executions_total=$((executions_total + ${executions:-0}))
  rows+=("$(printf '%-22s %14s %10s %8s  %s' "fuzz_$name" "${executions:-?}" "${per_second:-?}" "$corpus" "$summary")")
done

echo
printf '%-22s %14s %10s %8s  %s\n' target executions exec/s corpus findings
for row in "${rows[@]}"; do echo "$row"; done
for line in "${reproduce[@]}"; do echo "!! $line"; done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: FAILED: $findings_total finding(s) in ${failed[*]} (${#targets[@]} targets, ${fuzz_seconds}s each, $executions_total executions)"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${fuzz_seconds}s each, $executions_total executions, no findings"
