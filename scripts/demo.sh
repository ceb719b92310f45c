#!/usr/bin/env bash
# Quick start, part 1: install what is missing, build, and run the main job: a
# small simnet (simnet/scenarios/demo.json) on this machine: one authority,
# 15 service nodes and 10 clients in one process on loopback, about a minute
# of messages, one node killed midway and restarted 10 s later; then the
# summary. Extra arguments go to `nightjar-simnet run` (e.g. --duration 20,
# --json report.json; docs/SIMNET.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
BUILD_TARGETS="nightjar-simnet nightjar-node" bash scripts/build.sh
exec "${BUILD_DIR:-build}/bin/nightjar-simnet" run --scenario simnet/scenarios/demo.json "$@"
