// The viewer of `tessera serve`: OpenSeadragon over the server's Deep Zoom tiles. The server
// renders every tile (band selection, display range), so any sample type and band count
// shows; a commit of another process shows when a tile is fetched again.
"use strict";

const $ = (id) => document.getElementById(id);
let images = [];
let current = null;  // the image shown, as /api/images describes it

const viewer = OpenSeadragon({
  id: "view",
  prefixUrl: "/viewer/images/",
  showNavigator: true,
  maxZoomPixelRatio: 8,
  visibilityRatio: 0.5,
  crossOriginPolicy: "Anonymous",
});
window.tesseraViewer = viewer;  // for scripts and the browser test

function status(text) { $("status").textContent = text || ""; }

async function fetchJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(url + ": " + (await response.text()));
  return response.json();
}

function displayQuery() {
  const params = new URLSearchParams();
  params.set("frame", $("frame").value);
  if ($("bands").value.trim()) params.set("bands", $("bands").value.replace(/\s+/g, ""));
  if ($("range").value.trim()) params.set("range", $("range").value.replace(/\s+/g, ""));
  return params.toString();
}

// A tile source of the server's Deep Zoom levels, from the coarsest it can make on the fly.
function tileSource(image) {
  const name = encodeURIComponent(image.name);
  const query = displayQuery();
  return {
    width: image.area.width,
    height: image.area.height,
    tileSize: 256,
    tileOverlap: 0,
    minLevel: image.dzi_min_level,
    maxLevel: image.dzi_levels - 1,
    getTileUrl: (level, x, y) => `/dzi/${name}_files/${level}/${x}_${y}.jpg?${query}`,
  };
}

async function show(keepView) {
  status("");
  const frame = Number($("frame").value);
  try {
    const list = await fetchJson(`/api/images?image=${encodeURIComponent(current.name)}&frame=${frame}`);
    current = list.images[0];
  } catch (e) { return status(e.message); }
  if (!current.area) return status(`frame ${frame} of ${current.name} holds no data`);
  const bounds = keepView ? viewer.viewport.getBounds() : null;
  viewer.addTiledImage({
    tileSource: tileSource(current),
    index: 0,
    replace: viewer.world.getItemCount() > 0,
    success: () => {
      if (bounds) viewer.viewport.fitBounds(bounds, true);
      else viewer.viewport.goHome(true);
      updateScale();
    },
    error: (e) => status(e.message || "the image could not be opened"),
  });
}

async function autoRange() {
  const params = new URLSearchParams({ frame: $("frame").value });
  if ($("bands").value.trim()) params.set("bands", $("bands").value.replace(/\s+/g, ""));
  try {
    const r = await fetchJson(`/api/range/${encodeURIComponent(current.name)}?${params}`);
    $("range").value = r.ranges.map(([lo, hi]) => `${+lo.toPrecision(6)}:${+hi.toPrecision(6)}`).join(",");
    show(true);
  } catch (e) { status(e.message); }
}

function choose(name) {
  current = images.find((i) => i.name === name);
  $("frame").max = String(current.frames - 1);
  $("frame").value = "0";
  $("frame-out").value = "0";
  $("frame-box").hidden = current.frames < 2;
  $("bands").value = current.bands >= 3 ? "0,1,2" : "0";
  $("range").value = "";
  const plain = current.dtype === "u8" && (current.bands === 1 || current.bands === 3);
  if (plain) show(false);
  else autoRange();  // data that is not 8-bit: stretch it to what it holds
}

// A scale bar when the image says how large a pixel is.
function updateScale() {
  const box = $("scale");
  const image = viewer.world.getItemAt(0);
  if (!current || !current.metres_per_pixel || !image) return void (box.hidden = true);
  const zoom = image.viewportToImageZoom(viewer.viewport.getZoom(true));  // screen pixels per image pixel
  const metresPerScreenPixel = current.metres_per_pixel / zoom;
  const target = 120 * metresPerScreenPixel;
  const step = Math.pow(10, Math.floor(Math.log10(target)));
  const nice = [5, 2, 1].map((m) => m * step).find((v) => v <= target) || step;
  const units = [[1e3, "km"], [1, "m"], [1e-3, "mm"], [1e-6, "µm"], [1e-9, "nm"]];
  const [unit, label] = units.find(([u]) => nice >= u) || units[units.length - 1];
  $("scale-bar").style.width = `${(nice / metresPerScreenPixel).toFixed(1)}px`;
  $("scale-text").textContent = `${+(nice / unit).toPrecision(3)} ${label}`;
  box.hidden = false;
}
viewer.addHandler("animation", updateScale);
viewer.addHandler("open", updateScale);

$("image").addEventListener("change", (e) => choose(e.target.value));
$("frame").addEventListener("input", () => { $("frame-out").value = $("frame").value; });
$("frame").addEventListener("change", () => show(true));
$("bands").addEventListener("change", () => show(true));
$("range").addEventListener("change", () => show(true));
$("auto").addEventListener("click", autoRange);

(async () => {
  try {
    images = (await fetchJson("/api/images")).images;
  } catch (e) { return status(e.message); }
  if (!images.length) return status("the container holds no image");
  for (const image of images) $("image").add(new Option(`${image.name} (${image.dtype} x ${image.bands})`, image.name));
  const wanted = new URLSearchParams(location.hash.slice(1)).get("image");
  const first = images.find((i) => i.name === wanted) || images[0];
  $("image").value = first.name;
  choose(first.name);
})();
