// The viewer of `tessera serve` in a real browser (Debian's headless chromium, driven by
// playwright-core): a container of coloured 64 x 64 blocks is imported, its pyramid built and
// served; the page opens the image zoomed out, is zoomed to level 0 (two screen pixels per image
// pixel) on a known block, and a screenshot's pixels there must be that block's colour, and the
// next block's 128 screen pixels to the right; the scale bar must say what 80 pixels span; and
// the frame slider must show frame 1 (every colour inverted) in the same view.
//   node viewer_test.mjs TESSERA_CLI CHROMIUM WORKDIR
import { spawn, execFileSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [cli, browserPath, work] = process.argv.slice(2);
if (!cli || !browserPath || !work) throw new Error("usage: node viewer_test.mjs TESSERA_CLI CHROMIUM WORKDIR");
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });

// 2048 x 1536 RGB u8, block (bx, by) of 64 x 64 in one colour.
const W = 2048, H = 1536, B = 64;
const colour = (bx, by) => [(bx * 37 + 20) % 256, (by * 53 + 40) % 256, ((bx + by) * 29 + 60) % 256];
const raw = Buffer.alloc(W * H * 3);
for (let y = 0; y < H; ++y)
  for (let x = 0; x < W; ++x) raw.set(colour(Math.floor(x / B), Math.floor(y / B)), (y * W + x) * 3);
writeFileSync(`${work}/blocks.raw`, raw);
writeFileSync(`${work}/blocks.raw.hdr`, `ENVI\nsamples = ${W}\nlines = ${H}\nbands = 3\nheader offset = 0\n` +
  "file type = ENVI Standard\ndata type = 1\ninterleave = bip\nbyte order = 0\n");
const file = `${work}/blocks.tsr`;
execFileSync(cli, ["import", file, `${work}/blocks.raw`, "--image", "blocks", "--quiet"]);
// Frame 1: every colour inverted. A pixel of 0.5 micrometres, as OpenSlide says it.
const inverted = ([r, g, b]) => [255 - r, 255 - g, 255 - b];
for (let i = 0; i < raw.length; ++i) raw[i] = 255 - raw[i];
writeFileSync(`${work}/blocks.raw`, raw);
execFileSync(cli, ["import", file, `${work}/blocks.raw`, "--image", "blocks", "--frame", "1", "--quiet"]);
execFileSync(cli, ["pyramid", file, "--all-frames", "--quiet"]);
execFileSync(cli, ["attr", file, "--image", "blocks", "--set", "openslide.mpp-x=0.5"]);

const server = spawn(cli, ["serve", file, "--port", "0", "--stop-after", "300"], { stdio: ["ignore", "pipe", "inherit"] });
const port = await new Promise((resolve, reject) => {
  let out = "";
  server.stdout.on("data", (d) => {
    out += d;
    const m = out.match(/http:\/\/127\.0\.0\.1:(\d+)\//);
    if (m) resolve(Number(m[1]));
  });
  server.on("exit", (code) => reject(new Error(`tessera serve exited (${code}) before listening`)));
});

const browser = await chromium.launch({
  executablePath: browserPath,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"],
});
let failed = false;
try {
  const page = await browser.newPage({ viewport: { width: 800, height: 600 } });
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  const tiles = [];
  page.on("requestfinished", (r) => { if (r.url().includes("/dzi/blocks_files/")) tiles.push(r.url()); });
  await page.goto(`http://127.0.0.1:${port}/#image=blocks`);
  const loaded = () => {
    const item = window.tesseraViewer.world.getItemAt(0);
    return item && item.getFullyLoaded();
  };
  await page.waitForFunction(loaded, null, { timeout: 30000 });
  // Block (13, 9): its centre at image pixel (13.5 * 64, 9.5 * 64).
  const bx = 13, by = 9;
  await page.evaluate(([x, y]) => {
    const viewer = window.tesseraViewer, item = viewer.world.getItemAt(0);
    viewer.viewport.zoomTo(item.imageToViewportZoom(2), null, true);  // 2 screen pixels per image pixel
    viewer.viewport.panTo(item.imageToViewportCoordinates(x, y), true);
  }, [(bx + 0.5) * B, (by + 0.5) * B]);
  await page.waitForFunction(loaded, null, { timeout: 30000 });
  await page.waitForTimeout(300);  // the last tiles' fade-in
  const box = await page.locator("#view").boundingBox();
  const centre = [box.x + box.width / 2, box.y + box.height / 2];
  const points = [centre, [centre[0] + 128, centre[1]]];
  const check = async (what, expected, shotPath) => {
    const shot = await page.screenshot({ path: shotPath });
    const sample = await pixels(shot);
    for (let i = 0; i < expected.length; ++i) {
      const off = sample[i].map((v, c) => Math.abs(v - expected[i][c]));
      const ok = Math.max(...off) <= 6;
      console.log(`${what}, block (${bx + i}, ${by}): screenshot ${sample[i]}, image ${expected[i]}: ${ok ? "ok" : "WRONG"}`);
      failed ||= !ok;
    }
  };
  // The screenshot's pixels at `points`, decoded by the browser itself.
  const pixels = (shot) => page.evaluate(async ([png, points]) => {
    const image = new Image();
    image.src = "data:image/png;base64," + png;
    await image.decode();
    const canvas = document.createElement("canvas");
    canvas.width = image.width, canvas.height = image.height;
    const context = canvas.getContext("2d");
    context.drawImage(image, 0, 0);
    return points.map(([x, y]) => {
      // The mean of a 9 x 9 square: the block is 128 screen pixels across.
      const d = context.getImageData(x - 4, y - 4, 9, 9).data;
      const mean = [0, 0, 0];
      for (let i = 0; i < d.length; i += 4) for (let c = 0; c < 3; ++c) mean[c] += d[i + c] / 81;
      return mean.map(Math.round);
    });
  }, [shot.toString("base64"), points]);
  await check("frame 0", [colour(bx, by), colour(bx + 1, by)], `${work}/viewer.png`);
  // The scale bar: 0.25 micrometres per screen pixel, so 20 um is 80 pixels.
  const scale = await page.evaluate(() => [document.getElementById("scale").hidden,
    document.getElementById("scale-text").textContent, document.getElementById("scale-bar").style.width]);
  console.log(`scale bar: ${scale[1]}, ${scale[2]}`);
  if (scale[0] || scale[1] !== "20 µm" || Math.abs(parseFloat(scale[2]) - 80) > 0.5) failed = true;
  // The frame slider: frame 1, the same view.
  await page.evaluate(() => {
    const slider = document.getElementById("frame");
    slider.value = "1";
    slider.dispatchEvent(new Event("change"));
  });
  await page.waitForFunction(() => {
    const item = window.tesseraViewer.world.getItemAt(0);
    return item && item.source.getTileUrl(11, 0, 0).includes("frame=1") && item.getFullyLoaded();
  }, null, { timeout: 30000 });
  await page.waitForTimeout(300);
  await check("frame 1", [inverted(colour(bx, by)), inverted(colour(bx + 1, by))], `${work}/viewer-frame1.png`);
  const level = Math.max(...tiles.map((url) => Number(url.match(/_files\/(\d+)\//)[1])));
  console.log(`${tiles.length} tiles fetched, the finest of Deep Zoom level ${level} (full resolution: 11)`);
  if (level !== 11) failed = true;
  if (errors.length) {
    console.log("page errors: " + errors.join("; "));
    failed = true;
  }
  console.log(`screenshot: ${work}/viewer.png`);
} finally {
  await browser.close();
  server.kill("SIGTERM");
}
process.exit(failed ? 1 : 0);
