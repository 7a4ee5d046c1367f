"""Dask: an image as a dask.array whose tasks read tiles in the workers."""

import threading

import numpy as np

from . import _container

# One read-only container per (path, lock) in each worker process, opened by the first task
# that needs it: a task opens no file of its own, and a snapshot per task sees the last commit.
_open = {}
_open_lock = threading.Lock()


def _reader(path, lock):
    key = (path, lock)
    with _open_lock:
        c = _open.get(key)
        if c is None or c.closed:
            c = _container.open(path, "r", lock=lock, threads=1)
            _open[key] = c
        return c


def _read_block(path, name, x, y, width, height, frame, level, bands, lock):
    img = _reader(path, lock)[name]
    return img.read((x, y, width, height), bands=bands, frame=frame, level=level)


def _axis_chunks(start, size, tile):
    """Chunk lengths along one axis from `start` over `size` pixels, cut at tile boundaries."""
    chunks, at, end = [], start, start + size
    while at < end:
        nxt = min(end, (at // tile + 1) * tile)
        chunks.append(nxt - at)
        at = nxt
    return tuple(chunks)


def to_dask(img, frame, level, bands, chunk_tiles, lock):
    import dask.array as da
    from dask.base import tokenize

    view = img.frame(frame).level(level)
    box = view.area()
    band_list = list(range(img.bands)) if bands is None else [int(b) for b in bands]
    tile = img.chunks[0]
    step = tile * (max(1, 1024 // tile) if chunk_tiles is None else int(chunk_tiles))
    dtype = img.dtype
    if box is None:
        return da.zeros((0, 0, len(band_list)), dtype=dtype)
    ychunks = _axis_chunks(box.y, box.height, step)
    xchunks = _axis_chunks(box.x, box.width, step)
    path = img._c.path
    name = "tessera-read-" + tokenize(path, img.name, frame, level, band_list, box, step)
    graph = {}
    y = box.y
    for i, h in enumerate(ychunks):
        x = box.x
        for j, w in enumerate(xchunks):
            graph[(name, i, j, 0)] = (_read_block, path, img.name, x, y, w, h, frame, level, band_list, lock)
            x += w
        y += h
    return da.Array(graph, name, chunks=(ychunks, xchunks, (len(band_list),)), dtype=dtype,
                    meta=np.empty((0, 0, 0), dtype=dtype))
