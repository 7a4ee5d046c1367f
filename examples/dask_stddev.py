#!/usr/bin/env python3
"""The 3 x 3 local standard deviation of a scan, on a dask.distributed cluster.

    tessera-demo ingest scan.tsr --width 8192 --height 8192     # the demo's synthetic scan
    python3 examples/dask_stddev.py scan.tsr                     # 1, then 2 local workers

Reads image "scan" as a dask array on its tile grid (each task reads its tiles in its worker),
computes each band's standard deviation over every pixel's 3 x 3 neighbourhood with
map_overlap (edges reflected), stores it as image "stddev" (f32) of OUT (compressed in the
workers, merged by this process), checks a sample of pixels against numpy, and prints the
throughput with 1 and with 2 workers and the speed-up.

On a real cluster: put the container on storage every worker sees (NFS, a parallel file
system), start `dask scheduler` and `dask worker tcp://HOST:8786` on the machines, and run
this with --scheduler tcp://HOST:8786 (and --no-lock when the file is on read-only storage
that nobody writes: the workers then open it without its lock file).
"""

import argparse
import os
import shutil
import time

import numpy as np


def box3(a):
    """Sums over every 3 x 3 window (separable: rows, then columns): 2 pixels smaller each way."""
    rows = a[:-2] + a[1:-1] + a[2:]
    return rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]


def local_std(block):
    """3 x 3 standard deviation of each band of a block that carries a 1-pixel border."""
    x = block.astype(np.float64)
    mean = box3(x) / 9
    var = np.maximum(box3(x * x) / 9 - mean * mean, 0)
    out = np.zeros(block.shape, dtype=np.float32)
    out[1:-1, 1:-1] = np.sqrt(var)
    return out


def run(args, cluster_workers):
    import dask.array as da
    from dask.distributed import Client, LocalCluster

    import tessera

    if args.scheduler:
        client, cluster = Client(args.scheduler), None
    else:
        cluster = LocalCluster(n_workers=cluster_workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=40)
        client = Client(cluster)
    try:
        with tessera.open(args.scan, lock=not args.no_lock) as c:
            img = c[args.image]
            arr = img.to_dask(lock=not args.no_lock)
            origin, tile = img.origin, img.chunks[0]
        std = da.map_overlap(local_std, arr, depth=(1, 1, 0), boundary="reflect", trim=True, dtype=np.float32)
        out = f"{args.out}.{cluster_workers}w.tsr"
        for stale in (out, out + "-lock"):
            if os.path.exists(stale):
                os.remove(stale)
        shutil.rmtree(out + ".shards", ignore_errors=True)
        start = time.perf_counter()
        tessera.store(std, out, "stddev", origin=origin, codec="lz4", tile_size=tile)
        seconds = time.perf_counter() - start
    finally:
        client.close()
        if cluster:
            cluster.close()
    return out, arr.nbytes, seconds


def check(args, out, samples):
    """Compares `samples` random pixels of the stored map with numpy on the scan's own pixels."""
    import tessera

    rng = np.random.default_rng(7)
    with tessera.open(args.scan, lock=not args.no_lock) as c, tessera.open(out) as o:
        img, std = c[args.image], o["stddev"]
        (y0, x0), (h, w, _) = img.origin, img.shape
        for _ in range(samples):
            y, x = int(rng.integers(y0, y0 + h)), int(rng.integers(x0, x0 + w))
            # The 3 x 3 window, reflected at the image's edges as map_overlap does.
            rows = [min(max(v, 2 * y0 - v - 1 if v < y0 else v), 2 * (y0 + h) - v - 1) for v in (y - 1, y, y + 1)]
            cols = [min(max(v, 2 * x0 - v - 1 if v < x0 else v), 2 * (x0 + w) - v - 1) for v in (x - 1, x, x + 1)]
            window = np.stack([img[r, cl] for r in rows for cl in cols]).astype(np.float64)
            want = window.std(axis=0)
            got = std[y, x]
            if not np.allclose(got, want, rtol=1e-4, atol=1e-3):
                raise SystemExit(f"pixel ({x}, {y}): stored {got}, numpy {want}")
    print(f"checked {samples} pixels against numpy: equal")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("scan", help="a container holding the image (e.g. made by tessera-demo ingest)")
    parser.add_argument("--image", default="scan")
    parser.add_argument("--out", default=None, help="output containers' prefix (default: SCAN without .tsr)")
    parser.add_argument("--workers", default="1,2", help="worker counts to run with, in order (default 1,2)")
    parser.add_argument("--samples", type=int, default=200, help="pixels checked against numpy")
    parser.add_argument("--scheduler", default=None, help="a dask scheduler address instead of a LocalCluster")
    parser.add_argument("--no-lock", action="store_true", help="open SCAN without its lock file (read-only storage)")
    args = parser.parse_args()
    args.out = args.out or os.path.splitext(args.scan)[0] + "-stddev"
    times = {}
    for n in [int(v) for v in args.workers.split(",")]:
        out, nbytes, seconds = run(args, n)
        times[n] = seconds
        print(f"{n} worker{'s' if n > 1 else ''}: {nbytes / 1e6:.0f} MB in {seconds:.2f} s = "
              f"{nbytes / 1e6 / seconds:.0f} MB/s (read, 3 x 3 stddev, store)")
        check(args, out, args.samples)
    if 1 in times and 2 in times:
        print(f"speed-up of 2 workers over 1: {times[1] / times[2]:.2f} x")


if __name__ == "__main__":
    main()
