#!/usr/bin/env bash
# Builds and runs every test:
#   build-release  Release build, the whole CTest suite
#   build-asan     AddressSanitizer + UndefinedBehaviorSanitizer build (-O1 -g1), the suite
#   build-fuzz     clang + libFuzzer targets (when fuzz/ exists), their smoke tests under CTest
# Builds with -j2. Exits non-zero if any step fails, after running the others.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1
jobs=2
failed=()
summary=()

step() {  # step NAME COMMAND...: runs a command, records whether it passed
  local name=$1
  shift
  echo
  echo "== $name: $*"
  local start=$SECONDS
  if "$@"; then
    summary+=("$name: ok ($((SECONDS - start)) s)")
  else
    summary+=("$name: FAILED ($((SECONDS - start)) s)")
    failed+=("$name")
    return 1
  fi
}

passed=0
failed_tests=0
ctest_counted() {  # ctest_counted DIR: runs ctest, adds its counts to the totals
  local log
  log=$(mktemp)
  ctest --test-dir "$1" --output-on-failure -j"$jobs" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  # "100% tests passed, 0 tests failed out of 57"
  local line
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1 || true)
  if [ -n "$line" ]; then
    local bad total
    bad=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
    passed=$((passed + total - bad))
    failed_tests=$((failed_tests + bad))
  fi
  rm -f "$log"
  return "$rc"
}

suite() {  # suite NAME BUILD_DIR TARGET CMAKE_ARGS...: configure, build TARGET (all), ctest
  local name=$1 dir=$2 target=$3
  shift 3
  step "$name configure" cmake -S . -B "$dir" "$@" &&
    step "$name build" cmake --build "$dir" -j"$jobs" --target "$target" &&
    step "$name ctest" ctest_counted "$dir"
}

suite release build-release all -DCMAKE_BUILD_TYPE=Release

# The sanitizers at -O1 (what ASan advises) with line tables only: stack traces keep file and
# line, and the build takes half the time of -O2 -g.
sanitizer_flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
                 "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG")

ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  suite sanitize build-asan all "${sanitizer_flags[@]}" -DTESSERA_SANITIZE=ON

if [ -f fuzz/CMakeLists.txt ]; then
  # Only the fuzz targets: the library, tools and benchmarks were built by the suites above.
  CC=clang CXX=clang++ suite fuzz build-fuzz tessera_fuzzers "${sanitizer_flags[@]}" \
    -DCMAKE_CXX_COMPILER=clang++ \
    -DTESSERA_BUILD_FUZZ=ON -DTESSERA_BUILD_TESTS=OFF
else
  summary+=("fuzz: skipped (no fuzz/CMakeLists.txt)")
fi

echo
echo "== summary"
printf '  %s\n' "${summary[@]}"
[ ${#failed[@]} -eq 0 ] || echo "  failed steps: ${failed[*]}"
echo "tests: $passed passed, $failed_tests failed"
[ ${#failed[@]} -eq 0 ]
