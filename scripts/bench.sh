#!/usr/bin/env bash
# Runs every Nightjar benchmark and writes their figures as one JSON file
# (docs/BENCHMARKS.md explains each figure and its ratio).
#
#   scripts/bench.sh [--quick] [--only NAME[,NAME...]] [--plot SVG] [OUT.json]
#
# OUT.json defaults to bench-results.json; --plot draws CPU per message against
# network size from the growth piece (docs/benchmarks-growth.svg; gnuplot).
#
# Pieces, in order: primitives (raw libsodium costs, the units of the ratios),
# onion, store, relay, idle_memory, flood_memory, e2e, growth, scale.
# --quick: short runs and small networks, a few minutes in all; the full run
# takes about half an hour. --only runs some pieces (primitives always runs).
#
# Environment:
#   BUILD_DIR            a Release build (default: build); missing benchmark
#                        binaries are built there first
#   NIGHTJAR_BENCH_LOCK  a lock file: every piece (and every simnet) runs under
#                        `flock` on it, so several people can share a machine
#   TMPDIR               where store_bench puts its RocksDB (must be a disk,
#                        not a tmpfs; default: $BUILD_DIR/bench-tmp)
#
# A piece that fails is recorded as {"failed": ...} and the others still run;
# the exit status is then 1. The flood piece is {"skipped": "not built"} when
# nightjar-flood-scenario is not in the build.
set -uo pipefail
cd "$(dirname "$0")/.."

quick=0
only=""
plot=""
out=bench-results.json
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --plot) plot=$2; shift ;;
    --only) only=",$2,"; shift ;;
    -h | --help) sed -n '2,28p' "$0"; exit 0 ;;
    -*) echo "bench.sh: unknown option $1" >&2; exit 2 ;;
    *) out=$1 ;;
  esac
  shift
done

build_dir=${BUILD_DIR:-build}
bin=$build_dir/bin
work=$(mktemp -d "/tmp/nightjar-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export TMPDIR=${TMPDIR:-$build_dir/bench-tmp}
mkdir -p "$TMPDIR"
lock=${NIGHTJAR_BENCH_LOCK:-}
L=()
[[ -n "$lock" ]] && L=(flock "$lock")
with_lock() { "${L[@]}" "$@"; }

# Built (or brought up to date: a no-op when they are) from this tree, so the
# figures belong to the commit recorded with them.
targets=(primitives_bench onion_bench envelope_bench group_bench store_bench relay_bench nightjar-simnet nightjar-node)
[[ -f "$build_dir/CMakeCache.txt" ]] || with_lock cmake -S . -B "$build_dir" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
with_lock cmake --build "$build_dir" -j2 --target "${targets[@]}" >/dev/null || exit 1
commit=$(git rev-parse --short HEAD 2>/dev/null)
[[ -n "$commit" ]] && ! git diff --quiet HEAD -- . 2>/dev/null && commit+="-dirty"
# The flood tool (tests/bench/flood) is optional: built if it can be.
if [[ -z "$only" || "$only" == *",flood_memory,"* ]]; then
  with_lock cmake --build "$build_dir" -j2 --target nightjar-flood-scenario >/dev/null 2>&1 ||
    echo "bench.sh: nightjar-flood-scenario does not build here: the flood piece is skipped" >&2
fi
grep -q "CMAKE_BUILD_TYPE:STRING=Release" "$build_dir/CMakeCache.txt" 2>/dev/null ||
  echo "bench.sh: warning: $build_dir is not a Release build" >&2

started=$(date +%s)
status=0
declare -A seconds

wanted() { [[ -z "$only" || "$1" == primitives || "$only" == *",$1,"* ]]; }

# piece NAME TIMEOUT_S LOCK COMMAND...: runs COMMAND (its stdout is one JSON
# object) into $work/NAME.json, or records why it failed. LOCK=1: under the
# lock (the wait for it is not part of the timeout); the simnet pieces take it
# for each simnet themselves.
piece() {
  local name=$1 limit=$2 locked=$3
  shift 3
  wanted "$name" || return 0
  echo "bench.sh: $name" >&2
  local t0=$SECONDS rc pre=()
  ((locked)) && pre=("${L[@]}")
  "${pre[@]}" timeout --kill-after=10 "$limit" "$@" >"$work/$name.json" 2>"$work/$name.err"
  rc=$?
  seconds[$name]=$((SECONDS - t0))
  if ((rc != 0)) || ! python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$work/$name.json" 2>/dev/null; then
    status=1
    python3 - "$name" "$rc" "$work/$name.err" >"$work/$name.json" <<'EOF'
import json, sys
err = open(sys.argv[3], errors="replace").read().strip().splitlines()
print(json.dumps({"failed": f"exit status {sys.argv[2]}", "stderr": err[-5:]}))
EOF
    echo "bench.sh: $name failed (exit $rc); see the JSON" >&2
  fi
}

if ((quick)); then
  s_prim=1 s_onion=3 s_relay=2 s_store=3 m_store=50000 flood_args=(--short)
else
  s_prim=3 s_onion=10 s_relay=10 s_store=10 m_store=1000000 flood_args=()
fi
q=()
((quick)) && q=(--quick)
py=(python3 scripts/bench_simnet.py --bin "$bin" --primitives "$work/primitives.json" "${q[@]}")

piece primitives 120 1 "$bin/primitives_bench" --json --seconds "$s_prim"
piece onion 300 1 "$bin/onion_bench" --json --seconds "$s_onion"
piece envelope 300 1 "$bin/envelope_bench" --json --seconds "$s_onion"
piece group 300 1 "$bin/group_bench" --json --seconds "$s_onion"
piece store 900 1 "$bin/store_bench" --json --seconds "$s_store" --messages "$m_store"
piece relay 300 1 "$bin/relay_bench" --json --seconds "$s_relay"
# The simnet pieces take the lock for each simnet run themselves.
export NIGHTJAR_BENCH_LOCK=$lock
piece idle_memory 1800 0 "${py[@]}" idle-memory
if [[ -x "$bin/nightjar-flood-scenario" ]]; then
  piece flood_memory 600 1 "$bin/nightjar-flood-scenario" --json "${flood_args[@]}"
elif wanted flood_memory; then
  echo '{"skipped": "not built: nightjar-flood-scenario is not in '"$bin"'"}' >"$work/flood_memory.json"
fi
piece e2e 7200 0 "${py[@]}" e2e
piece growth 7200 0 "${py[@]}" growth
piece scale 7200 0 "${py[@]}" scale

elapsed=$(($(date +%s) - started))
times=""
for k in "${!seconds[@]}"; do times+="$k=${seconds[$k]} "; done
python3 - "$work" "$out" "$quick" "$elapsed" "$times" "$build_dir" "$commit" <<'EOF'
import json, os, platform, sys, time
work, out, quick, elapsed, times, build_dir, commit = sys.argv[1:8]
def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
def mem_gib():
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            return round(int(line.split()[1]) / 1024 / 1024, 1)
res = {
    "quick": quick == "1",
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    "commit": commit or None,  # the tree the binaries were built from, at the start
    "machine": {"nproc": os.cpu_count(), "cpu_model": cpu_model(), "mem_gib": mem_gib(),
                "kernel": platform.release(),
                "build_type": next((l.split("=", 1)[1].strip() for l in open(os.path.join(build_dir, "CMakeCache.txt"))
                                    if l.startswith("CMAKE_BUILD_TYPE:")), None)},
    "elapsed_s": int(elapsed),
    "piece_seconds": {k: int(v) for k, v in (t.split("=") for t in times.split())},
}
for name in ["primitives", "onion", "store", "relay", "idle_memory", "flood_memory", "e2e",
             "growth", "scale"]:
    p = os.path.join(work, name + ".json")
    if os.path.exists(p):
        res[name] = json.load(open(p))
# Figures whose benchmark reports no ratio of its own, in units of this run's
# X25519 scalar multiplication (or an empty process's memory).
prim = res.get("primitives", {})
x = prim.get("x25519_us")
def get(piece, key):
    v = res.get(piece, {})
    return v.get(key) if isinstance(v, dict) else None
derived = {}
if x:
    pairs = {
        "onion_build_in_x25519": (get("onion", "build_us"), 1),
        "store_retrieve_cpu_p50_in_x25519": (get("store", "retrieve_cpu_p50_ms"), 1000),
        "store_retrieve_p50_in_x25519": (get("store", "retrieve_p50_ms"), 1000),
        "relay_cpu_per_cell_in_x25519": (get("relay", "relay_cpu_per_cell_us"), 1),
    }
    for k, (v, scale) in pairs.items():
        if isinstance(v, (int, float)):
            derived[k] = round(v * scale / x, 2)
flood = res.get("flood_memory", {})
if prim.get("rss_floor_mb") and isinstance(flood, dict):
    for k in ("target_rss_idle_mb", "target_rss_max_mb"):
        if isinstance(flood.get(k), (int, float)):
            derived["flood_" + k.replace("_mb", "_in_floor")] = round(flood[k] / prim["rss_floor_mb"], 2)
res["derived"] = derived
with open(out, "w") as f:
    json.dump(res, f, indent=1)
    f.write("\n")
print(f"bench.sh: wrote {out} ({elapsed} s)", file=sys.stderr)
EOF
if [[ -n "$plot" ]]; then
  if command -v gnuplot >/dev/null; then
    python3 scripts/bench_simnet.py plot --results "$out" --out "$plot" || status=1
  else
    echo "bench.sh: gnuplot is not installed: no plot" >&2
  fi
fi
exit $status
