"""tessera.store: a dask array written into a container, compressed in the workers.

Compression is the expensive part of a write, and a container has one writer at a time. So
each dask task writes its block into a shard container of its own (a small file beside the
target, in PATH.shards/), which compresses it on the worker; the driver then merges the
shards into the target one transaction per shard (WriteTxn::merge: the shards' chunks are
adopted as they are encoded, decoded once to be checked, never compressed again) and deletes
each shard once its merge has committed. docs/PYTHON.md says why and what it costs.

Resumable: a shard is renamed into place only once complete, so a store run again after an
interruption merges the shards it finds rather than computing them again, and merging a
shard a second time changes nothing.
"""

import os

import numpy as np

from . import _container
from ._dask import _axis_chunks


def _shard_name(token, i, j):
    return f"{token}-{i}-{j}.tsr"


def _remove(path):
    for p in (path, path + "-lock"):
        try:
            os.remove(p)
        except FileNotFoundError:
            pass


def _write_shard(block, shard_dir, token, name, spec, origin, block_info=None):
    """One task: block (rows, columns, bands) into shard container <token>-<i>-<j>.tsr."""
    i, j, _ = block_info[0]["chunk-location"]
    (y0, _), (x0, _), _ = block_info[0]["array-location"]
    final = os.path.join(shard_dir, _shard_name(token, i, j))
    if not os.path.exists(final):
        part = f"{final}.part-{os.getpid()}"
        _remove(part)
        with _container.open(part, "w", threads=1) as c:
            img = c.create_image(name, **spec)
            with c.transaction():
                img[origin[0] + y0:origin[0] + y0 + block.shape[0], origin[1] + x0:origin[1] + x0 + block.shape[1]] = block
        os.replace(part, final)
        _remove(part)  # its lock file
    return np.zeros((1, 1, 1), dtype=np.int8)


def store(array, path, name, *, origin=(0, 0), frame=0, codec="lz4", filter="shuffle", tile_size=256, fill=0,
          storage="chunky", block_tiles=8, progress=None):
    """Writes `array` (a dask array of rows x columns, or rows x columns x bands) into frame
    `frame` of image `name` of the container at `path` (created when missing, the image too,
    with codec, filter, tile_size, fill and storage), its pixel [0, 0] at origin (y, x).

    The array is cut on the image's tile grid in blocks of block_tiles x block_tiles tiles;
    each block is compressed by the dask worker that computes it (into a shard container
    beside the target) and merged into the target by this process. Tiles are written whole:
    where the array does not cover an edge tile, that tile shows the fill value afterwards.
    progress(done, total) is called after each merged shard. Returns {"blocks", "merged"}.
    """
    import dask.array as da
    from dask.base import tokenize

    arr = da.asarray(array)
    if arr.ndim == 2:
        arr = arr[:, :, np.newaxis]
    if arr.ndim != 3:
        raise _container._errors.InvalidArgument(f"store takes an array of 2 or 3 dimensions, not {arr.ndim}")
    path = str(path)
    spec = dict(dtype=arr.dtype, bands=int(arr.shape[2]), tile_size=int(tile_size), fill=fill, codec=codec,
                filter=filter, storage=storage)
    oy, ox = int(origin[0]), int(origin[1])
    with _container.open(path, "r+" if os.path.exists(path) else "w") as c:
        if name not in c.images:
            c.create_image(name, **spec)
        img = c[name]
        if img.dtype != arr.dtype or img.bands != arr.shape[2] or img.chunks[0] != tile_size:
            raise _container._errors.InvalidArgument(
                f"image '{name}' of {path} holds {img.bands} bands of {img.dtype} in tiles of {img.chunks[0]}; the "
                f"array has {arr.shape[2]} bands of {arr.dtype} (tile_size {tile_size})")

    step = int(tile_size) * int(block_tiles)
    chunks = (_axis_chunks(oy, arr.shape[0], step), _axis_chunks(ox, arr.shape[1], step), (arr.shape[2],))
    arr = arr.rechunk(chunks)
    token = tokenize(arr.name, path, name, frame, oy, ox, spec)
    shard_dir = path + ".shards"
    os.makedirs(shard_dir, exist_ok=True)
    written = arr.map_blocks(_write_shard, shard_dir, token, name, spec, (oy, ox), dtype=np.int8,
                             chunks=((1,) * len(chunks[0]), (1,) * len(chunks[1]), (1,)))
    written.compute()

    blocks = [(i, j) for i in range(len(chunks[0])) for j in range(len(chunks[1]))]
    merged = 0
    with _container.open(path, "r+") as c:
        for n, (i, j) in enumerate(blocks):
            shard = os.path.join(shard_dir, _shard_name(token, i, j))
            if os.path.exists(shard):
                c.merge(shard, name, frame=frame)
                _remove(shard)
                merged += 1
            if progress:
                progress(n + 1, len(blocks))
    try:
        os.rmdir(shard_dir)
    except OSError:
        pass  # another store's shards are still there
    return {"blocks": len(blocks), "merged": merged}
