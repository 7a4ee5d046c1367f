#!/usr/bin/env bash
# Installs the Debian 12 packages Tessera needs to build, test, fuzz and run its demo.
# Installs only what is missing (and runs apt-get update only then). Run as root, or as a
# user with sudo.
set -euo pipefail

packages=(
  build-essential cmake pkg-config git
  liblmdb-dev lmdb-utils liblz4-dev libzstd-dev libxxhash-dev
  libflatbuffers-dev flatbuffers-compiler libboost-dev libgtest-dev nlohmann-json3-dev
  time                                  # /usr/bin/time -v: peak memory in scripts/demo.sh
  clang libclang-rt-14-dev llvm         # libFuzzer targets in fuzz/
  libtiff-dev libopenslide-dev          # TIFF and whole-slide import and export (lib/io)
  libhdf5-dev                           # a peer of bench/tessera-bench-read; optional
  python3-dev pybind11-dev python3-numpy python3-pytest python3-dask python3-distributed
                                        # the Python package (python/) and its tests
  libtiff-tools gdal-bin python3-gdal python3-spectral python3-tifffile libvips-tools
                                        # independent readers and writers the io tests compare with
  libcpp-httplib-dev libturbojpeg0-dev libpng-dev
                                        # tessera serve: HTTP, JPEG and PNG
  chromium chromium-driver python3-selenium
                                        # the viewer's test in a headless browser
  wrk                                   # bench/serve-bench.sh's load generator; optional
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  echo "install-deps: missing ${missing[*]}; run as root or install sudo" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
echo "install-deps: done"
