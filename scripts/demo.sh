#!/usr/bin/env bash
# Quick start, part 1: install what is missing, build, and run the main job.
# Today the main job is the link-layer demo (two endpoints on loopback
# exchanging encrypted messages); the simnet replaces it once nodes exist.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/build.sh
exec "${BUILD_DIR:-build}/bin/nightjar-link-demo" "$@"
