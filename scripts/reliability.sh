#!/usr/bin/env bash
# Runs the reliability figures of docs/RELIABILITY.md and prints ONE JSON
# object with them on standard output (progress goes to standard error):
#
#   1. fault scenarios (simnet): kill -9 during a burst of stores, random
#      kills and restarts of up to swarm size - quorum members of every swarm
#      (process mode, real nightjar-node processes), partitions that heal
#      (in-process mode: the process mode cannot partition, docs/SIMNET.md),
#      and fault-free bursts to online recipients; all without lookback
#      sweeps; the figures: acknowledged messages lost, the fraction of stored
#      messages held by every member of their swarm at the end, and the
#      received latency (p50, p99, max: reported, never judged);
#   2. the floods: cells and garbage at one node while clients message
#      through it (nightjar-flood-scenario): the node's peak memory against
#      its bound, the clients' p99 against the unloaded p99;
#   3. the replay and authorization test (tests/integration/
#      test_replay_authorization.cpp, tag [replay]).
#
#   bash scripts/reliability.sh [--short] [--out DIR]
#
# --short is the CI form (tests/simnet/reliability_*.json, a 5 s flood: about
# three and a half minutes of work); without it, the long form (simnet/scenarios/reliability-*.json,
# over 10,000 messages, and 30 s floods: about a quarter of an hour). --out
# keeps every report (the simnet's JSON, the floods' JSON, logs) in DIR;
# otherwise they go to a temporary directory that is removed.
#
# Exit status 0 when every check holds: no acknowledged message lost, every
# stored message on every member of its swarm, the flooded node alive,
# answering and under its memory bound, the replay test passing. 1 otherwise,
# 2 for a usage error. Latency is reported, never judged.
#
# Environment:
#   BUILD_DIR         build directory (default: build); configured as Release
#                     if it is not configured yet, and the targets built in it
#   RELIABILITY_LOCK  if set, every heavy step runs under `flock` on this file
#                     (shared machines: one heavy job at a time). "seconds" in
#                     the JSON is the whole run, "busy_seconds" the steps
#                     themselves without the waits for the lock.
#   MAX_RSS_MB        the flooded node's memory bound (default 96)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

form=long
out=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --short) form=short; shift ;;
    --out) [[ $# -ge 2 ]] || { echo "reliability: --out needs a directory" >&2; exit 2; }
           out="$2"; shift 2 ;;
    -h | --help) sed -n '2,37p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "usage: scripts/reliability.sh [--short] [--out DIR]" >&2; exit 2 ;;
  esac
done

build_dir="${BUILD_DIR:-build}"
max_rss_mb="${MAX_RSS_MB:-96}"
if [[ -n "$out" ]]; then
  mkdir -p "$out"
  out="$(cd "$out" && pwd)"
else
  out="$(mktemp -d "${TMPDIR:-/tmp}/nightjar-reliability-XXXXXX")"
  trap 'rm -rf "$out"' EXIT
fi
start=$(date +%s)
say() { echo "== [$(( $(date +%s) - start ))s] reliability: $*" >&2; }
# Runs one heavy step (under the lock, if any) and adds the milliseconds it
# ran, without the wait for the lock, to $out/busy_ms.
timed() {
  local t0 rc=0
  t0=$(date +%s%N)
  "$@" || rc=$?
  echo $(( ($(date +%s%N) - t0) / 1000000 )) >>"$out/busy_ms"
  return $rc
}
heavy() {
  if [[ -n "${RELIABILITY_LOCK:-}" ]]; then
    flock "$RELIABILITY_LOCK" bash -c "$(declare -f timed); out='$out'; timed \"\$@\"" _ "$@"
  else
    timed "$@"
  fi
}

if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  say "configuring $build_dir (Release)"
  args=(-S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release)
  command -v ninja >/dev/null && args+=(-G Ninja)
  [[ "${CI:-}" == true ]] && args+=(-DNIGHTJAR_WERROR=ON)
  cmake "${args[@]}" >/dev/null
fi
say "building the simnet, the node, the floods and the integration tests in $build_dir"
heavy cmake --build "$build_dir" --parallel "$(nproc)" --target nightjar-simnet nightjar-node \
  nightjar-flood nightjar-flood-scenario nightjar_integration_tests >&2
bin="$build_dir/bin"

# 1. Fault scenarios. The simnet exits 0 after a run that reported; the
# figures are judged below, from its JSON.
# Bursts (no faults) is the delivery figure: bursts of 20 messages to one
# recipient at once, received latency with no lookback sweeps (every
# scenario here runs without them).
if [[ $form == short ]]; then
  scenarios=(tests/simnet/reliability_burst_kill.json tests/simnet/reliability_swarm_kills.json
             tests/simnet/reliability_partitions.json tests/simnet/bursts_short.json)
else
  scenarios=(simnet/scenarios/reliability-burst-kill.json simnet/scenarios/reliability-swarm-kills.json
             simnet/scenarios/reliability-partitions.json simnet/scenarios/bursts.json)
fi
status=0
for scenario in "${scenarios[@]}"; do
  name="$(basename "$scenario" .json)"
  name="${name#reliability[-_]}"
  name="${name%_short}"
  say "fault scenario $name ($scenario)"
  heavy "$bin/nightjar-simnet" run --scenario "$scenario" --json "$out/fault-$name.json" \
    --csv "$out/fault-$name" --no-progress --quiet \
    >"$out/fault-$name.out" 2>"$out/fault-$name.err" || {
    say "the simnet failed on $scenario (exit $?); last lines:"
    tail -n 20 "$out/fault-$name.err" >&2
    status=1
  }
done

# 2. Floods.
flood_args=(--check --max-rss-mb "$max_rss_mb")
[[ $form == short ]] && flood_args+=(--short)
say "floods (nightjar-flood-scenario ${flood_args[*]})"
heavy "$bin/nightjar-flood-scenario" "${flood_args[@]}" >"$out/flood.json" 2>"$out/flood.err" || {
  say "the flood scenario failed its check; last lines:"
  tail -n 20 "$out/flood.err" >&2
  status=1
}

# 3. Replays and authorization.
say "replay and authorization test"
replay_status=0
heavy "$bin/nightjar_integration_tests" "[replay]" >"$out/replay.out" 2>&1 || replay_status=$?

say "done in $(( $(date +%s) - start )) s"
python3 - "$out" "$form" "$replay_status" "$(( $(date +%s) - start ))" "$status" <<'EOF'
import glob, json, os, re, sys

out, form, replay_status, seconds, status = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
ok = status == 0
with open(os.path.join(out, "busy_ms")) as f:
    busy_seconds = round(sum(int(line) for line in f if line.strip()) / 1000)

def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None

faults = {}
totals = {"sent": 0, "acked": 0, "acked_lost": 0, "stored_messages_checked": 0,
          "acked_not_on_every_member": 0, "acked_held_nowhere": 0}
for path in sorted(glob.glob(os.path.join(out, "fault-*.json"))):
    name = os.path.basename(path)[len("fault-"):-len(".json")]
    r = load(path)
    if r is None:
        faults[name] = {"error": "no report"}
        ok = False
        continue
    events = r.get("events", [])
    kinds = {k: sum(1 for e in events if re.match(r"[\d.]+ s " + k + r"\b", e))
             for k in ("kill", "restart", "partition", "heal")}
    f = {
        "mode": r["mode"], "nodes": r["node_count"], "clients": r["client_count"],
        "duration_s": r["duration_s"], "sent": r["sent"], "acked": r["acked"],
        "send_failed": r["send_failed"], "unanswered": r["unanswered"],
        "delivered": r["delivered"], "acked_lost": r["acked_lost"],
        "duplicates": r["duplicates"], "replication_complete": r["replication_complete"],
        "replicated_messages": r["replicated_messages"],
        "acked_checked": r.get("acked_checked"),
        "acked_on_every_member": r.get("acked_on_every_member"),
        "acked_held_nowhere": r.get("acked_held_nowhere"),
        "stored_p50_ms": r["latency_ms"]["stored"].get("p50"),
        "stored_p99_ms": r["latency_ms"]["stored"].get("p99"),
        "received_p50_ms": r["latency_ms"]["received"].get("p50"),
        "received_p99_ms": r["latency_ms"]["received"].get("p99"),
        "received_max_ms": r["latency_ms"]["received"].get("max"),
        "kills": kinds["kill"], "restarts": kinds["restart"],
        "partitions": kinds["partition"], "heals": kinds["heal"],
        "wall_s": r["wall_s"], "notes": r.get("notes", []),
    }
    faults[name] = f
    for k in ("sent", "acked", "acked_lost"):
        totals[k] += f[k]
    totals["stored_messages_checked"] += f["replicated_messages"]
    totals["acked_not_on_every_member"] += (f["acked_checked"] or 0) - (f["acked_on_every_member"] or 0)
    totals["acked_held_nowhere"] += f["acked_held_nowhere"] or 0
    if (f["acked_lost"] != 0 or f["replication_complete"] != 1.0 or f["duplicates"] != 0
            or f["acked_checked"] is None or f["acked_on_every_member"] != f["acked_checked"]):
        ok = False
totals["replication_complete_min"] = min(
    (f["replication_complete"] for f in faults.values() if "replication_complete" in f), default=None)

fl = load(os.path.join(out, "flood.json"))
if fl is None:
    flood = {"error": "no report"}
    ok = False
else:
    keep = ["flood_seconds", "nodes", "clients", "client_rate",
            "unloaded_p50_ms", "unloaded_p99_ms", "flood_p50_ms", "flood_p99_ms", "after_p99_ms",
            "p99_factor", "p50_factor", "unloaded_failures", "flood_failures", "after_failures",
            "target_rss_idle_mb", "target_rss_unloaded_max_mb", "target_rss_max_mb", "max_rss_bound_mb",
            "rss_within_bound", "target_cpu_seconds_flood", "target_survived", "target_metrics_answered",
            "target_relays_after", "target_clean_exit", "cells_sent", "cells_per_second",
            "garbage_connections", "garbage_dropped", "garbage_not_dropped", "target_cells_received",
            "target_dropped_bad_mac", "target_rate_limited_cell_dropped", "target_rate_limited_refused"]
    flood = {k: fl[k] for k in keep if k in fl}
    if not (fl.get("target_survived") and fl.get("target_metrics_answered")
            and fl.get("target_relays_after") and fl.get("rss_within_bound")):
        ok = False

text = open(os.path.join(out, "replay.out"), errors="replace").read()
m = re.search(r"All tests passed \((\d+) assertions? in (\d+) test cases?\)", text)
replay = {"test": "replays and requests signed by another key are refused and counted in the metrics",
          "passed": replay_status == 0 and m is not None,
          "assertions": int(m.group(1)) if m else None}
if not replay["passed"]:
    ok = False

print(json.dumps({"form": form, "ok": ok, "seconds": seconds, "busy_seconds": busy_seconds, "faults": faults, "fault_totals": totals,
                  "flood": flood, "replay_authorization": replay}, indent=2))
sys.exit(0 if ok else 1)
EOF
