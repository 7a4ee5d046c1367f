#!/usr/bin/env bash
# Refreshes web/vendor/openseadragon, the OpenSeadragon build the viewer of `tessera serve`
# embeds, from the npm package that web/package.json and web/package-lock.json name:
#   scripts/update-openseadragon.sh            (needs npm and the npm registry)
# Edit the version in web/package.json and run `npm install --package-lock-only` in web/ first to
# move to another release. The build itself never fetches anything.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$root/web/package.json" "$root/web/package-lock.json" "$work/"
(cd "$work" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
build="$work/node_modules/openseadragon/build/openseadragon"
out="$root/web/vendor/openseadragon"
rm -rf "$out"
mkdir -p "$out"
cp "$build/openseadragon.min.js" "$out/"
cp -r "$build/images" "$out/"
cp "$work/node_modules/openseadragon/LICENSE.txt" "$out/"
echo "update-openseadragon: $(grep '"version"' "$work/node_modules/openseadragon/package.json" | tr -d ' ,') in $out"
