#!/usr/bin/env python3
"""The viewer of `tessera serve` in a real browser: Debian's headless chromium, driven through
chromedriver by Selenium (Debian's python3-selenium).

A container of coloured 64 x 64 blocks (2048 x 1536 RGB u8, frame 1 the same inverted, 0.5
micrometres per pixel) is imported, its pyramid built and served. The page opens the image
zoomed out; it is zoomed to level 0 (two screen pixels per image pixel) on a known block, and a
screenshot's pixels there must be that block's colour, and the next block's 128 screen pixels to
the right; the scale bar must say what 80 pixels span; the frame slider must show frame 1 in the
same view; and the tiles fetched must include full-resolution ones.

    viewer_test.py TESSERA_CLI CHROMIUM CHROMEDRIVER WORKDIR
"""
import base64
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from selenium import webdriver

W, H, B = 2048, 1536, 64


def colour(bx, by):
    return [(bx * 37 + 20) % 256, (by * 53 + 40) % 256, ((bx + by) * 29 + 60) % 256]


def blocks(invert):
    row = bytearray()
    out = bytearray()
    for by in range(H // B):
        row = bytearray()
        for bx in range(W // B):
            c = colour(bx, by)
            if invert:
                c = [255 - v for v in c]
            row += bytes(c) * B
        out += bytes(row) * B
    return bytes(out)


def write_envi(path, data):
    path.write_bytes(data)
    Path(str(path) + ".hdr").write_text(
        f"ENVI\nsamples = {W}\nlines = {H}\nbands = 3\nheader offset = 0\nfile type = ENVI Standard\n"
        "data type = 1\ninterleave = bip\nbyte order = 0\n")


def wait_for(driver, script, what, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        if driver.execute_script(script):
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


FULLY_LOADED = "const i = window.tesseraViewer && window.tesseraViewer.world.getItemAt(0); return !!i && i.getFullyLoaded();"

# The mean colour of a 9 x 9 square of a PNG screenshot at each point, decoded by the browser.
SAMPLE = """
const [png, points, done] = arguments;
const image = new Image();
image.onload = () => {
  const canvas = document.createElement("canvas");
  canvas.width = image.width, canvas.height = image.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  done(points.map(([x, y]) => {
    const d = context.getImageData(x - 4, y - 4, 9, 9).data, mean = [0, 0, 0];
    for (let i = 0; i < d.length; i += 4) for (let c = 0; c < 3; ++c) mean[c] += d[i + c] / 81;
    return mean.map(Math.round);
  }));
};
image.src = "data:image/png;base64," + png;
"""


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: viewer_test.py TESSERA_CLI CHROMIUM CHROMEDRIVER WORKDIR")
    cli, chromium, chromedriver, work = sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4])
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    raw = work / "blocks.raw"
    file = str(work / "blocks.tsr")
    write_envi(raw, blocks(False))
    subprocess.run([cli, "import", file, str(raw), "--image", "blocks", "--quiet"], check=True)
    write_envi(raw, blocks(True))
    subprocess.run([cli, "import", file, str(raw), "--image", "blocks", "--frame", "1", "--quiet"], check=True)
    subprocess.run([cli, "pyramid", file, "--all-frames", "--quiet"], check=True)
    subprocess.run([cli, "attr", file, "--image", "blocks", "--set", "openslide.mpp-x=0.5"], check=True,
                   stdout=subprocess.DEVNULL)

    server = subprocess.Popen([cli, "serve", file, "--port", "0", "--stop-after", "300"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", server.stdout.readline()).group(1))
        run(work, port, chromium, chromedriver)
    finally:
        server.terminate()
        server.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port):
    for _ in range(200):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def run(work, port, chromium, chromedriver_path):
    """Drives the browser against the server on `port`; exits 1 when a check fails."""
    # Chromium and chromedriver are started here, each on 127.0.0.1 and reached by address:
    # chromedriver's own start of Chromium, and Selenium's of chromedriver, go through the name
    # "localhost", which a system without /etc/hosts (a bare debootstrap root) cannot resolve.
    browser_port, driver_port = free_port(), free_port()
    browser = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--window-size=800,700",
         f"--user-data-dir={work / 'profile'}", f"--remote-debugging-port={browser_port}",
         "--remote-debugging-address=127.0.0.1", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    chromedriver = subprocess.Popen([chromedriver_path, f"--port={driver_port}"], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
    try:
        wait_for_port(browser_port)
        wait_for_port(driver_port)
        options = webdriver.ChromeOptions()
        options.debugger_address = f"127.0.0.1:{browser_port}"
        drive(work, port, webdriver.Remote(command_executor=f"http://127.0.0.1:{driver_port}", options=options))
    finally:
        for process in (chromedriver, browser):
            process.terminate()
            process.wait()


def drive(work, port, driver):
    """The checks, in the browser `driver` drives; exits 1 when one fails."""
    failed = False
    try:
        driver.get(f"http://127.0.0.1:{port}/#image=blocks")
        wait_for(driver, FULLY_LOADED, "the zoomed-out view")
        bx, by = 13, 9
        driver.execute_script("""
            const [x, y] = arguments, viewer = window.tesseraViewer, item = viewer.world.getItemAt(0);
            viewer.viewport.zoomTo(item.imageToViewportZoom(2), null, true);  // 2 screen pixels per image pixel
            viewer.viewport.panTo(item.imageToViewportCoordinates(x, y), true);""", (bx + 0.5) * B, (by + 0.5) * B)
        wait_for(driver, FULLY_LOADED, "level 0")
        time.sleep(0.3)  # the last tiles' fade-in
        box = driver.execute_script("const r = document.getElementById('view').getBoundingClientRect();"
                                    "return [r.x + r.width / 2, r.y + r.height / 2];")
        points = [box, [box[0] + 128, box[1]]]

        def check(what, expected, name):
            nonlocal failed
            png = driver.get_screenshot_as_png()
            (work / name).write_bytes(png)
            got = driver.execute_async_script(SAMPLE, base64.b64encode(png).decode(), points)
            for i, (g, e) in enumerate(zip(got, expected)):
                ok = max(abs(a - b) for a, b in zip(g, e)) <= 6
                print(f"{what}, block ({bx + i}, {by}): screenshot {g}, image {e}: {'ok' if ok else 'WRONG'}")
                failed = failed or not ok

        check("frame 0", [colour(bx, by), colour(bx + 1, by)], "viewer.png")
        # The scale bar: 0.25 micrometres per screen pixel, so 20 um is 80 pixels.
        hidden, text, width = driver.execute_script(
            "return [document.getElementById('scale').hidden, document.getElementById('scale-text').textContent,"
            " document.getElementById('scale-bar').style.width];")
        print(f"scale bar: {text}, {width}")
        failed = failed or hidden or text != "20 µm" or abs(float(width.rstrip("px")) - 80) > 0.5
        # The frame slider: frame 1, the same view.
        driver.execute_script("const s = document.getElementById('frame'); s.value = '1';"
                              "s.dispatchEvent(new Event('change'));")
        wait_for(driver, "const i = window.tesseraViewer.world.getItemAt(0);"
                         "return !!i && i.source.getTileUrl(11, 0, 0).includes('frame=1') && i.getFullyLoaded();",
                 "frame 1")
        time.sleep(0.3)
        check("frame 1", [[255 - v for v in colour(bx, by)], [255 - v for v in colour(bx + 1, by)]],
              "viewer-frame1.png")
        levels = [int(m) for m in re.findall(r"/dzi/blocks_files/(\d+)/",
                                             driver.execute_script(
                                                 "return performance.getEntriesByType('resource')"
                                                 ".map(e => e.name).join(' ');"))]
        print(f"{len(levels)} tiles fetched, the finest of Deep Zoom level {max(levels)} (full resolution: 11)")
        failed = failed or max(levels) != 11
        shown = driver.execute_script("return document.getElementById('status').textContent")
        if shown:
            print("the viewer reports: " + shown)
            failed = True
        print(f"screenshots: {work}/viewer.png, {work}/viewer-frame1.png")
    finally:
        driver.quit()
    if failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
