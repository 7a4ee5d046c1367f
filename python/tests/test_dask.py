"""to_dask and store round trips on a dask.distributed LocalCluster of worker processes."""

import os

import numpy as np
import pytest

import tessera
from conftest import random_pixels

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                       silence_logs=40)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def test_to_dask_reads_in_the_workers(client, tmp_path):
    rng = np.random.default_rng(11)
    ref = random_pixels(rng, np.int32, (70, 90, 3))
    ref[ref == 0] = 1
    with tessera.open(tmp_path / "a.tsr", "w") as c:
        img = c.create_image("img", np.int32, 3, tile_size=16)
        with c.transaction():
            img[-13:57, -40:50] = ref
        arr = img.to_dask(chunk_tiles=1)
        assert arr.shape == (70, 90, 3)
        # chunks cut at the tile grid: -13 .. 0 is the first row of chunks
        assert arr.chunks[0][:2] == (13, 16) and arr.chunks[1][:2] == (8, 16)
        assert img.to_dask(chunk_tiles=2).chunks[1] == (8, 32, 32, 18)
        assert img.to_dask().chunks[0] == (13, 57)  # default: about 1024 pixels
        assert np.array_equal(arr.compute(), ref)
        assert np.array_equal(img.to_dask(bands=[2, 0]).compute(), ref[:, :, [2, 0]])
        # Another commit shows up in the next computation (each task takes its own snapshot).
        with c.transaction():
            img[-13:-12, -40:-39] = 5
        assert arr[0, 0].compute().tolist() == [5, 5, 5]
        c.build_pyramid("img", levels=1)
        lvl = img.to_dask(level=1)
        assert np.array_equal(lvl.compute(), img.level(1)[:, :])


def _marked(block, marks):
    """A block computation that leaves a file behind: how many blocks a store computed."""
    import uuid
    open(os.path.join(marks, uuid.uuid4().hex), "w").close()
    return block


def test_store_round_trip_and_resume(client, tmp_path, monkeypatch):
    rng = np.random.default_rng(12)
    ref = rng.integers(0, 4000, (300, 260, 2), dtype=np.uint16)
    marks = tmp_path / "marks"
    marks.mkdir()
    arr = da.from_array(ref, chunks=(100, 120, 2)).map_blocks(_marked, str(marks), dtype=np.uint16)
    path = str(tmp_path / "out.tsr")
    options = dict(origin=(-50, 30), tile_size=32, block_tiles=2, codec="zstd:1")

    # Interrupted while merging: the third merge fails; every shard is on disk.
    merges = []
    original = tessera.Container.merge

    def failing(self, *args, **kwargs):
        merges.append(1)
        if len(merges) == 3:
            raise tessera.IoError("interrupted")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(tessera.Container, "merge", failing)
    with pytest.raises(tessera.IoError, match="interrupted"):
        tessera.store(arr, path, "img", **options)
    monkeypatch.setattr(tessera.Container, "merge", original)
    shards = sorted(os.listdir(path + ".shards"))
    assert len(shards) == 25  # 300 x 260 from (-50, 30) in blocks of 64: 5 x 5
    # Two shards lost as well: a run again computes those two only.
    for lost in shards[:2]:
        os.remove(os.path.join(path + ".shards", lost))
    before = len(os.listdir(marks))
    result = tessera.store(arr, path, "img", **options)
    assert result == {"blocks": 25, "computed": 2}
    assert not os.path.exists(path + ".shards")
    # map_overlap-free blocks of 100 x 120 feed shards of 64 x 64: 2 shards touch at most 4 blocks
    assert 0 < len(os.listdir(marks)) - before <= 8
    with tessera.open(path) as c:
        img = c["img"]
        assert img.origin == (-50, 30)
        assert np.array_equal(img[-50:250, 30:290], ref)
    assert tessera.verify(path, deep=True)["clean"]
    with pytest.raises(tessera.InvalidArgument, match="bands"):
        tessera.store(da.zeros((10, 10, 3), dtype=np.uint16), path, "img", tile_size=32)
