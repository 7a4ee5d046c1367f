#!/usr/bin/env python3
"""tessera Python beside C++, and Dask with 1 and 2 workers, in one run (issue 15's report).

    PYTHONPATH=build-release/python python3 bench/python_bench.py [--size N] [--regions N] [DIR]

On the demo's synthetic scan (tessera-demo ingest, N x N RGB u8; default 8192):
  1. random unaligned 512 x 512 regions per second, one thread: C++ (tessera-bench-regions,
     the same regions from the same generator) beside Python img.read(out=...) into one
     buffer and Python slicing img[y:y+512, x:x+512] (a new array each);
  2. Python reads of a zstd copy of the scan (decode-heavy) from 1 and from 2 threads: the
     speed-up shows the GIL released;
  3. examples/dask_stddev.py: read, 3 x 3 stddev and store, with 1 and with 2 workers;
  4. tessera.store of the scan (to_dask -> store into a new container) with 1 and 2 workers.
Medians of 3 where a pass is short.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

import numpy as np

import tessera

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Lcg:
    """The generator of tessera-bench-regions (regions_bench.cc)."""

    def __init__(self, seed):
        self.state = seed

    def next(self, bound):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return (self.state >> 33) % bound


def regions(box, count, size, seed):
    lcg = Lcg(seed)
    out = []
    for _ in range(count):
        x = box.x + lcg.next(box.width - size)
        y = box.y + lcg.next(box.height - size)
        out.append((x, y))
    return out


def median3(fn):
    return statistics.median(fn() for _ in range(3))


def python_reads(img, points, size, mode):
    buf = np.empty((size, size, img.bands), img.dtype)
    start = time.perf_counter()
    for x, y in points:
        if mode == "read":
            img.read((x, y, size, size), out=buf)
        else:
            img[y:y + size, x:x + size]
    return len(points) / (time.perf_counter() - start)


def threaded_reads(img, points, size, threads):
    def work(part):
        buf = np.empty((size, size, img.bands), img.dtype)
        for x, y in part:
            img.read((x, y, size, size), out=buf)

    parts = [points[k::threads] for k in range(threads)]
    workers = [threading.Thread(target=work, args=(p,)) for p in parts]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return len(points) / (time.perf_counter() - start)


def store_with(workers, scan, out):
    from dask.distributed import Client, LocalCluster

    for stale in (out, out + "-lock"):
        if os.path.exists(stale):
            os.remove(stale)
    shutil.rmtree(out + ".shards", ignore_errors=True)
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=40) as cluster, Client(cluster):
        with tessera.open(scan) as c:
            img = c["scan"]
            arr, origin = img.to_dask(), img.origin
        start = time.perf_counter()
        tessera.store(arr, out, "copy", origin=origin, codec="lz4")
        seconds = time.perf_counter() - start
    return arr.nbytes / 1e6 / seconds


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir", nargs="?", default="/tmp")
    p.add_argument("--size", type=int, default=8192)
    p.add_argument("--regions", type=int, default=1000)
    p.add_argument("--build", default=os.path.join(ROOT, "build-release"))
    args = p.parse_args()
    work = os.path.join(args.dir, "tessera-python-bench")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    scan = os.path.join(work, "scan.tsr")
    subprocess.run([os.path.join(args.build, "tools", "tessera-demo"), "ingest", scan, "--width", str(args.size),
                    "--height", str(args.size)], check=True, capture_output=True)
    zscan = os.path.join(work, "scan-zstd.tsr")
    with tessera.open(scan) as c:
        img = c["scan"]
        box = img.bounds()
        mb = box.width * box.height * 3 / 1e6
    print(f"scan: {box.width} x {box.height} RGB u8 ({mb:.0f} MB), LZ4; {args.regions} regions of 512 x 512")

    # 1. Python beside C++, one thread, the same regions.
    points = regions(box, args.regions, 512, 42)
    cpp = median3(lambda: float(subprocess.run(
        [os.path.join(args.build, "bench", "tessera-bench-regions"), scan, "scan", str(args.regions), "512", "42", "1"],
        check=True, capture_output=True, text=True).stdout))
    with tessera.open(scan, threads=1) as c:
        img = c["scan"]
        py_read = median3(lambda: python_reads(img, points, 512, "read"))
        py_slice = median3(lambda: python_reads(img, points, 512, "slice"))
    print(f"regions/s, 1 thread: C++ {cpp:.0f}, Python read(out=) {py_read:.0f} ({py_read / cpp:.2f} x C++), "
          f"Python slicing {py_slice:.0f} ({py_slice / cpp:.2f} x C++)")

    # 2. The GIL: decode-heavy reads (zstd) from 1 and 2 Python threads.
    with tessera.open(zscan, "w") as z:
        z.create_image("scan", np.uint8, 3, codec="zstd:3")
        z.merge(scan, "scan")  # the chunks as they are (LZ4), then recompressed
    subprocess.run([os.path.join(args.build, "tools", "tessera"), "recompress", zscan, "--codec", "zstd:3", "--quiet"],
                   check=True)
    with tessera.open(zscan, threads=1) as c:
        img = c["scan"]
        one = median3(lambda: threaded_reads(img, points, 512, 1))
        two = median3(lambda: threaded_reads(img, points, 512, 2))
    print(f"zstd regions/s from Python threads (1 decode thread each): 1 thread {one:.0f}, 2 threads {two:.0f}: "
          f"{two / one:.2f} x")

    # 3. The example.
    run = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "dask_stddev.py"), scan, "--samples", "100"],
                         check=True, capture_output=True, text=True)
    print("dask_stddev.py:", " | ".join(line for line in run.stdout.splitlines() if "worker" in line or "speed" in line))

    # 4. store.
    s1 = store_with(1, scan, os.path.join(work, "copy1.tsr"))
    s2 = store_with(2, scan, os.path.join(work, "copy2.tsr"))
    print(f"tessera.store of the scan (to_dask -> store, LZ4): 1 worker {s1:.0f} MB/s, 2 workers {s2:.0f} MB/s: "
          f"{s2 / s1:.2f} x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
