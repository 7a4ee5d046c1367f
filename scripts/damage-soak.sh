#!/usr/bin/env bash
# The damaged-file soak (spec/FORMAT.md 7.9): every page boundary, every page zeroed, every byte
# of a small container flipped once and 2000 runs of 16 bytes overwritten, each copy tried in a
# child process (open, info's questions, reads, an export, verify); then, when a fuzz build is
# given, the whole-container fuzz target for FUZZ_SECONDS (600). Prints the counts per class
# (right, clean errors, silent wrong, signals, hangs) and the fuzzer's executions; fails on any
# signal, hang or silent wrong answer.
#
#   scripts/damage-soak.sh [BUILD_DIR] [FUZZ_BUILD_DIR]     (defaults: build-release, none)
set -euo pipefail
build=${1:-build-release}
fuzz_build=${2:-}
tests="$build/tests/tessera_tests"
[ -x "$tests" ] || { echo "damage-soak.sh: $tests not found: build the tests first" >&2; exit 1; }
TESSERA_DAMAGE_SOAK=1 "$tests" --gtest_filter='DamagedFileTest.NeverCrashesAReader' | grep -E 'damage sweep|FAILED|OK \]'
if [ -n "$fuzz_build" ]; then
  fuzzer="$fuzz_build/fuzz/fuzz_container"
  [ -x "$fuzzer" ] || { echo "damage-soak.sh: $fuzzer not found: build tessera_fuzzers there" >&2; exit 1; }
  corpus=$(mktemp -d "${TMPDIR:-/tmp}/tessera-soak-corpus.XXXXXX")
  trap 'rm -rf "$corpus"' EXIT
  cp "$fuzz_build"/fuzz/seeds/container/*.tsr "$corpus/"
  "$fuzzer" -max_total_time="${FUZZ_SECONDS:-600}" -rss_limit_mb=2048 -timeout=25 -print_final_stats=1 \
    -artifact_prefix="$corpus/" "$corpus" 2>&1 | grep -E '^stat::(number_of_executed_units|average_exec_per_sec)|ERROR|SUMMARY'
fi
