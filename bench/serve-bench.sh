#!/usr/bin/env bash
# tessera serve under load: wrk (2 threads, 64 connections, 30 s, loopback only) asking for
# random full-resolution Deep Zoom tiles (256 x 256 JPEG, quality 90) of the demo's scan
# (40000 x 30000 RGB, tessera-demo ingest) with its pyramid built, beside `vips dzsave` output
# of the same scan (the same tiles as JPEG files, quality 90) served as static files by the
# same server (--static). Two tile sets:
#   cold: every one of the 18,526 tiles, server started with no tile cache (--cache 0)
#   warm: 1000 tiles (a 40 x 25 block), after a 10 s warm-up, default cache (256 MiB)
#   revalidation: the same 1000 tiles asked with their ETags (If-None-Match: a 304 each)
# The files stay in DIR (default /tmp/tessera-serve-bench) for the next run.
#   bench/serve-bench.sh [BUILD_DIR] [DIR]
set -euo pipefail

build=${1:-build}
dir=${2:-/tmp/tessera-serve-bench}
cli="$build/tools/tessera"
demo="$build/tools/tessera-demo"
for tool in wrk vips; do
  command -v "$tool" >/dev/null || { echo "serve-bench: $tool not found (scripts/install-deps.sh)" >&2; exit 1; }
done
mkdir -p "$dir"
file="$dir/scan.tsr"
if [ ! -f "$file" ]; then
  echo "== the scan: tessera-demo ingest $file"
  "$demo" ingest "$file"
  "$cli" pyramid "$file" --quiet
fi
if [ ! -d "$dir/dz_files" ]; then
  echo "== vips dzsave of the same scan (from an uncompressed tiled TIFF export)"
  "$cli" export "$file" "$dir/scan.tif" --format tiff --compression none --quiet
  vips dzsave "$dir/scan.tif" "$dir/dz" --tile-size 256 --overlap 0 --suffix '.jpg[Q=90]'
  rm -f "$dir/scan.tif"
fi

# Tile lists: Deep Zoom level 16 is full resolution (40000 fits 2^16): columns 0..156, rows 0..117.
for set in all warm; do
  for kind in tessera static; do
    out="$dir/$kind-$set.txt"
    : > "$out"
    for ((row = 0; row < 118; row++)); do
      for ((col = 0; col < 157; col++)); do
        if [ "$set" = warm ] && { [ $col -ge 40 ] || [ $row -ge 25 ]; }; then continue; fi
        if [ "$kind" = tessera ]; then echo "/dzi/scan_files/16/${col}_${row}.jpg" >> "$out"
        else echo "/dz/dz_files/16/${col}_${row}.jpg" >> "$out"; fi
      done
    done
  done
done
cat > "$dir/random.lua" <<'LUA'
local paths = {}
for line in io.lines(os.getenv("TILES")) do paths[#paths + 1] = line end
math.randomseed(os.time() * 1000 + math.floor(os.clock() * 1e6))
request = function() return wrk.format("GET", paths[math.random(#paths)]) end
LUA

cat > "$dir/revalidate.lua" <<'LUA'
local paths, tags = {}, {}
for line in io.lines(os.getenv("TILES")) do
  local path, tag = line:match("^(%S+) (%S+)$")
  paths[#paths + 1], tags[#tags + 1] = path, tag
end
math.randomseed(os.time() * 1000 + math.floor(os.clock() * 1e6))
request = function()
  local i = math.random(#paths)
  return wrk.format("GET", paths[i], { ["If-None-Match"] = tags[i] })
end
LUA

port=18093
run_server() {  # run_server CACHE_BYTES: starts tessera serve in the background
  "$cli" serve "$file" --port $port --cache "$1" --static "/dz=$dir" --stop-after 600 --quiet &
  server=$!
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/api/images" >/dev/null && return; sleep 0.1; done
  echo "serve-bench: the server did not start" >&2; exit 1
}
stop_server() {  # prints the server's peak RSS, then stops it
  # Anonymous memory (heap) apart from the file's mapped pages, which the page cache holds.
  echo "server peak RSS $(awk '/VmHWM/ {print int($2 / 1024) " MiB"}' "/proc/$server/status"), now: heap" \
       "$(awk '/RssAnon/ {print int($2 / 1024) " MiB"}' "/proc/$server/status"), mapped file" \
       "$(awk '/RssFile/ {print int($2 / 1024) " MiB"}' "/proc/$server/status")"
  kill "$server"
  wait "$server" || true
}
load() {  # load NAME TILES SECONDS
  echo "== $1"
  TILES="$2" wrk -t2 -c64 -d"$3"s --latency -s "$dir/random.lua" "http://127.0.0.1:$port/" |
    grep -E "requests in|Requests/sec|Transfer/sec|Non-2xx|Socket errors|50%|99%"
}

run_server 0
load "tessera, cold (no tile cache), all tiles" "$dir/tessera-all.txt" 30
load "vips dzsave static files, all tiles" "$dir/static-all.txt" 30
stop_server
run_server 268435456
TILES="$dir/tessera-warm.txt" wrk -t2 -c64 -d10s -s "$dir/random.lua" "http://127.0.0.1:$port/" >/dev/null
load "tessera, warm (1000 tiles in a 256 MiB cache)" "$dir/tessera-warm.txt" 30
load "vips dzsave static files, the same 1000 tiles" "$dir/static-warm.txt" 30
# A client that has the tiles asks again with their ETags: 304, nothing decoded.
while read -r path; do
  printf '%s %s\n' "$path" "$(curl -sI "http://127.0.0.1:$port$path" | tr -d '\r' | awk '/^ETag:/ {print $2}')"
done < "$dir/tessera-warm.txt" > "$dir/tessera-etags.txt"
echo "== tessera, revalidation of the same 1000 tiles (If-None-Match: 304)"
TILES="$dir/tessera-etags.txt" wrk -t2 -c64 -d30s --latency -s "$dir/revalidate.lua" "http://127.0.0.1:$port/" |
  grep -E "requests in|Requests/sec|Non-2xx|Socket errors|50%|99%"
stop_server
