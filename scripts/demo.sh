#!/usr/bin/env bash
# The main job: streams a 40000 x 30000 RGB synthetic scan (3.6 GB raw) into a new container,
# prints `tessera info` for it, then reads 1000 random 512x512 regions back in BIP and BSQ and
# checks every pixel. Prints throughput beside raw LZ4 baselines, and the import's peak RSS.
#   scripts/demo.sh [BUILD_DIR]        (default: build; a Release build is expected)
# Extra options for tessera-demo can come from DEMO_INGEST_ARGS and DEMO_CHECK_ARGS, e.g.
#   DEMO_INGEST_ARGS="--width 8000 --height 6000" scripts/demo.sh build
set -euo pipefail

build=${1:-build}
[[ "$build" = /* ]] || build="$PWD/$build"
demo="$build/tools/tessera-demo"
cli="$build/tools/tessera"
for bin in "$demo" "$cli"; do
  [ -x "$bin" ] || { echo "demo.sh: $bin not found: build first (see README.md)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "demo.sh: /usr/bin/time not found: run scripts/install-deps.sh" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/tessera-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
file="$work/scan.tsr"
start=$(date +%s.%N)

echo "== ingest (tessera-demo ingest $file ${DEMO_INGEST_ARGS:-})"
# shellcheck disable=SC2086
/usr/bin/time -v -o "$work/time.txt" "$demo" ingest "$file" ${DEMO_INGEST_ARGS:-}
rss_kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$work/time.txt")
echo "peak RSS: $((rss_kb / 1024)) MiB"

echo "== tessera info $file"
"$cli" info "$file"

echo "== check (tessera-demo check $file ${DEMO_CHECK_ARGS:-})"
# shellcheck disable=SC2086
"$demo" check "$file" ${DEMO_CHECK_ARGS:-}

elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
echo "RESULT demo_s=$elapsed ingest_peak_rss_mib=$((rss_kb / 1024))"
echo "demo: passed in $elapsed s (ingest, info, check)"
