#!/usr/bin/env bash
# Quick start, part 1: install what is missing, build, and run the main job.
# Today the main job is the onion demo: four service nodes on loopback, and a
# client whose requests cross 3 relays to a destination node and come back.
# The simnet replaces it once the node daemon and the directory exist.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
exec "${BUILD_DIR:-build}/bin/nightjar-onion-demo" "$@"
