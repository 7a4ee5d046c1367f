"""tessera.store: a dask array written into a container, compressed in the workers.

Compression is the expensive part of a write, and a container has one writer at a time. So
each dask task writes its block into a shard container of its own (a small file beside the
target, in PATH.shards/), which compresses it on the worker; the driver then merges the
shards into the target one transaction per shard (WriteTxn::merge: the shards' chunks are
adopted as they are encoded, decoded once to be checked, never compressed again) and deletes
each shard once its merge has committed. docs/PYTHON.md says why and what it costs.

Resumable: a shard is renamed into place only once complete, and the shards are deleted only
once every one is merged, so a store run again after an interruption computes only the blocks
without a shard and merges them all again (merging a shard a second time changes nothing).
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


def _write_shard(block, final, name, spec, y, x):
    """One task: `block` (rows, columns, bands) at (y, x) into a new shard container `final`,
    renamed into place once complete."""
    part = f"{final}.part-{os.getpid()}"
    _remove(part)
    with _container.open(part, "w", threads=1) as c:
        img = c.create_image(name, **spec)
        with c.transaction():
            img[y:y + block.shape[0], x:x + block.shape[1]] = block
    os.replace(part, final)
    _remove(part)  # its lock file
    return final


def store(array, path, name, *, origin=(0, 0), frame=0, codec="lz4", filter="shuffle", tile_size=256, fill=0,
          storage="chunky", block_tiles=8, progress=None):
    """Writes `array` (a dask array of rows x columns, or rows x columns x bands) into frame
    `frame` of image `name` of the container at `path` (created when missing, the image too,
    with codec, filter, tile_size, fill and storage), its pixel [0, 0] at origin (y, x).

    The array is cut on the image's tile grid in blocks of block_tiles x block_tiles tiles;
    each block is compressed by the dask worker that computes it (into a shard container
    beside the target) and merged into the target by this process. Tiles are written whole:
    where the array does not cover an edge tile, that tile shows the fill value afterwards.
    progress(done, total) is called after each merged shard. Returns {"blocks": blocks in all,
    "computed": blocks computed in this run (the others' shards were there from an interrupted
    run)}.
    """
    import dask
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
    # Only the blocks without a shard are computed: a run after an interruption skips the rest
    # (and whatever computes their pixels).
    starts = [np.cumsum((0,) + c[:-1]) for c in chunks[:2]]
    blocks, tasks = [], []
    for (i, j), block in np.ndenumerate(arr.to_delayed()[:, :, 0]):
        shard = os.path.join(shard_dir, _shard_name(token, i, j))
        blocks.append(shard)
        if not os.path.exists(shard):
            tasks.append(dask.delayed(_write_shard)(block, shard, name, spec, oy + int(starts[0][i]),
                                                    ox + int(starts[1][j])))
    dask.compute(*tasks)

    # Merged in order, a transaction each; the shards are deleted only once all are in, so an
    # interrupted merge is run again from the shards (merging one twice changes nothing).
    with _container.open(path, "r+") as c:
        for n, shard in enumerate(blocks):
            c.merge(shard, name, frame=frame)
            if progress:
                progress(n + 1, len(blocks))
    for shard in blocks:
        _remove(shard)
    try:
        os.rmdir(shard_dir)
    except OSError:
        pass  # another store's shards are still there
    return {"blocks": len(blocks), "computed": len(tasks)}

