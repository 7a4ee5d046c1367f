#!/usr/bin/env bash
# A longer run of the process tests (tests/proc_test.cc) than the normal suite's:
#   the crash loop with TESSERA_SOAK_KILLS kills (default 10000), and
#   the multi-process reader test committing for TESSERA_SOAK_SECONDS seconds (default 600).
# Usage: scripts/soak.sh [BUILD_DIR]   (default build-release; built first)
# Prints each test's summary line and the verdict; exits non-zero when a test failed.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build-release}
kills=${TESSERA_SOAK_KILLS:-10000}
seconds=${TESSERA_SOAK_SECONDS:-600}

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release || exit 1
fi
cmake --build "$build" -j2 --target tessera_tests tessera_test_child || exit 1

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
run() {  # run NAME FILTER: one test, its output kept in the log
  local start=$SECONDS
  echo "== $1"
  if TESSERA_SOAK_KILLS=$kills TESSERA_SOAK_SECONDS=$seconds \
      "$build/tests/tessera_tests" --gtest_filter="$2" >"$log" 2>&1; then
    echo "   passed in $((SECONDS - start)) s"
  else
    echo "   FAILED in $((SECONDS - start)) s"
    status=1
    grep -E 'Failure|error|Expected|Which is|round' "$log" | head -n 40
  fi
  grep '^\[ summary  \]' "$log" | sed 's/^\[ summary  \]/  /'
}

run "crash loop: $kills kills" 'ProcTest.KilledWriterLeavesLastAcknowledgedCommit'
run "readers in 4 processes and 2 threads: $seconds s of commits" \
  'ProcTest.SnapshotsStayConsistentAcrossProcessesAndThreads'
[ $status -eq 0 ] && echo "soak: passed" || echo "soak: FAILED"
exit $status
