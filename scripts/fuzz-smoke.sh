#!/usr/bin/env bash
# The short fuzz run of CI: scripts/fuzz.sh, every target for FUZZ_SECONDS
# (default 20) seconds. Exits non-zero if any target finds a crash, a leak, a
# timeout or a sanitizer report.
#
# Environment (as for scripts/fuzz.sh):
#   FUZZ_BUILD_DIR  build directory (default: build-fuzz in the repository root)
#   FUZZ_SECONDS    seconds to fuzz each target (default: 20)
set -euo pipefail
export FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
exec bash "$(dirname "${BASH_SOURCE[0]}")/fuzz.sh"
