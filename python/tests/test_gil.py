"""The GIL is released while the library reads: another Python thread runs meanwhile, and
reads from several threads overlap. (Their speed-up is measured by bench/python_bench.py; here
only that the interpreter is free during a read, which holds on a loaded machine too.)"""

import sys
import threading
import time

import numpy as np

import tessera

SIDE = 2048  # one read of it takes tens of ms: much longer than the interpreter's switch interval


def _decode_heavy_image(c):
    rng = np.random.default_rng(21)
    img = c.create_image("img", np.uint16, 3, tile_size=128, codec="zstd:3")
    y, x = np.mgrid[0:SIDE, 0:SIDE]
    with c.transaction():
        img[0:SIDE, 0:SIDE] = ((x + y)[:, :, None] * 3 + rng.integers(0, 64, (SIDE, SIDE, 3))).astype(np.uint16)
    return img


def test_python_runs_while_a_read_decodes(tmp_path):
    with tessera.open(tmp_path / "t.tsr", "w") as c:
        _decode_heavy_image(c)
    # One decode thread: a read of the whole image is one long call into the library.
    with tessera.open(tmp_path / "t.tsr", threads=1) as c:
        img = c["img"]
        out = np.empty((SIDE, SIDE, 3), np.uint16)
        gaps = []
        for _ in range(3):
            done, window, stamps = threading.Event(), [], []

            def reader():
                start = time.perf_counter()
                img.read((0, 0, SIDE, SIDE), out=out)
                window.extend((start, time.perf_counter()))
                done.set()

            thread = threading.Thread(target=reader)
            thread.start()
            while not done.is_set():  # this thread's pulse, as long as the read runs
                stamps.append(time.perf_counter())
            thread.join()
            start, end = window
            pulse = [start] + [t for t in stamps if start <= t <= end] + [end]
            gaps.append(max(b - a for a, b in zip(pulse, pulse[1:])) / (end - start))
    # With the GIL held through the read this thread would stop for all of it (a gap of 1);
    # released, it keeps running (gaps are the scheduler's, far shorter than the read).
    assert min(gaps) < 0.5, f"longest pause of this thread during a read, as a fraction of the read: {gaps}"


def test_reads_from_threads_give_the_same_pixels(new_container):
    c = new_container()
    img = _decode_heavy_image(c)
    want = img[0:1024, 0:1024]
    results = [None] * 4

    def read(k):
        results[k] = img[128 * k:128 * k + 512, 100:900]

    threads = [threading.Thread(target=read, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(4):
        assert np.array_equal(results[k], want[128 * k:128 * k + 512, 100:900])
