#!/usr/bin/env bash
# Power loss and I/O error tests (tests/power_loss_test.cc) in soak mode: every sync point of
# the workload with seeds 1..8 for the random tears, every call failed in turn. Uses an
# existing build (default build-release; pass another build directory as $1).
#   scripts/soak-power.sh [BUILD_DIR]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build-release}
[ -x "$build/tests/tessera_tests" ] || { echo "no $build/tests/tessera_tests: build first" >&2; exit 2; }
TESSERA_SOAK=1 "$build/tests/tessera_tests" --gtest_filter='PowerLossTest.*:IoErrorTest.*'
