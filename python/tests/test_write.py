"""Transactions, errors by code, and what a closed container or a finished transaction does."""

import numpy as np
import pytest

import tessera


def test_commit_on_success_abort_on_exception(new_container):
    c = new_container()
    img = c.create_image("img", np.uint8, 1, tile_size=16)
    with c.transaction():
        img[0:8, 0:8] = 5
    assert (img[0:8, 0:8] == 5).all()
    with pytest.raises(RuntimeError, match="changed my mind"):
        with c.transaction():
            img[0:8, 0:8] = 9
            assert (img[0:8, 0:8] == 9).all()  # the transaction reads its own writes
            raise RuntimeError("changed my mind")
    assert (img[0:8, 0:8] == 5).all()  # aborted


def test_writes_need_a_transaction(new_container):
    c = new_container()
    img = c.create_image("img", np.uint8, 2, tile_size=16)
    with pytest.raises(tessera.InvalidArgument, match="inside `with container.transaction"):
        img[0:4, 0:4] = 1
    with c.transaction():
        with pytest.raises(tessera.InvalidArgument, match="already open"):
            with c.transaction():
                pass
        img[0:4, 0:4, 1] = 3                      # one band, a scalar
        img[4:6, 0:3] = np.array([1, 2], np.uint8)  # broadcast over the pixels
        with pytest.raises(tessera.InvalidArgument, match="dtype"):
            img[0:4, 0:4] = np.zeros((4, 4, 2), np.int32)
        with pytest.raises(tessera.InvalidArgument, match="does not fit"):
            img[0:4, 0:4] = np.zeros((3, 4, 2), np.uint8)
    assert (img[0:4, 0:4, 1] == 3).all() and (img[0:4, 0:4, 0] == 0).all()
    assert img[5, 2].tolist() == [1, 2]


def test_errors_arrive_as_subclasses_by_code(tmp_path):
    with pytest.raises(tessera.NotFound):
        tessera.open(tmp_path / "missing.tsr")
    (tmp_path / "not.tsr").write_bytes(b"x" * 8192)
    with pytest.raises(tessera.Corrupt, match="not a Tessera container"):
        tessera.open(tmp_path / "not.tsr")
    with tessera.open(tmp_path / "a.tsr", "w") as c:
        c.create_image("img", np.uint8)
        with pytest.raises(tessera.AlreadyExists):
            c.create_image("img", np.uint8)
        with pytest.raises(tessera.NotFound, match="no image named 'other'"):
            c["other"]
        with pytest.raises(tessera.InvalidArgument, match="not one Tessera stores"):
            c.create_image("c", np.complex64)
    with pytest.raises(tessera.AlreadyExists):
        tessera.open(tmp_path / "a.tsr", "w")  # "w" never overwrites
    with tessera.open(tmp_path / "a.tsr", "r") as c:
        with pytest.raises(tessera.ReadOnly):
            with c.transaction():
                pass
    with pytest.raises(tessera.InvalidArgument, match="mode"):
        tessera.open(tmp_path / "a.tsr", "x")
    assert issubclass(tessera.NoSpace, tessera.TesseraError) and issubclass(tessera.Busy, tessera.TesseraError)


def test_closed_container_and_finished_transaction_raise(new_container):
    c = new_container()
    img = c.create_image("img", np.uint8, tile_size=16)
    with c.transaction() as t:
        img[0:2, 0:2] = 1
    with pytest.raises(tessera.InvalidArgument, match="finished"):
        t.set_attribute("img", "a", 1)
    c.close()
    assert c.closed
    with pytest.raises(tessera.InvalidArgument, match="closed"):
        img[0:2, 0:2]
    with pytest.raises(tessera.InvalidArgument, match="closed"):
        c.images


def test_import_export_verify_and_merge(tmp_path):
    raw = np.arange(30 * 40 * 2, dtype=np.uint16).reshape(30, 40, 2)
    (tmp_path / "in.raw").write_bytes(raw.tobytes())
    (tmp_path / "in.hdr").write_text("ENVI\nsamples = 40\nlines = 30\nbands = 2\nheader offset = 0\n"
                                     "data type = 12\ninterleave = bip\nbyte order = 0\n")
    progress = []
    with tessera.open(tmp_path / "a.tsr", "w") as c:
        c.import_file(tmp_path / "in.raw", image="in", tile_size=16, origin=(-5, 7),
                      progress=lambda done, total: progress.append((done, total)))
        assert np.array_equal(c["in"][-5:25, 7:47], raw)
        c.export_file(tmp_path / "out.raw", image="in")
    assert progress and progress[-1][0] == progress[-1][1]
    assert (tmp_path / "out.raw").read_bytes() == raw.tobytes()
    assert tessera.verify(tmp_path / "a.tsr", deep=True) == {"clean": True, "faults": [], "notices": []}
    with tessera.open(tmp_path / "b.tsr", "w") as b:
        b.create_image("in", np.uint16, 2, tile_size=16)
        b.merge(tmp_path / "a.tsr", "in")
        assert np.array_equal(b["in"][-5:25, 7:47], raw)
        b.create_image("other", np.uint8, 2, tile_size=16)
        with pytest.raises(tessera.InvalidArgument, match="sample type u16 against u8"):
            b.merge(tmp_path / "a.tsr", "in", "other")


def test_an_import_keeps_its_extent(tmp_path):
    # A scene with a no-data collar (0, the fill): the image is still what was imported.
    raw = np.zeros((30, 40, 1), dtype=np.uint8)
    raw[4:20, 6:33] = 200
    (tmp_path / "scene.raw").write_bytes(raw.tobytes())
    (tmp_path / "scene.hdr").write_text("ENVI\nsamples = 40\nlines = 30\nbands = 1\nheader offset = 0\n"
                                        "data type = 1\ninterleave = bsq\nbyte order = 0\n")
    with tessera.open(tmp_path / "s.tsr", "w") as c:
        c.import_file(tmp_path / "scene.raw", tile_size=16, origin=(-50, 100))  # (y, x)
        img = c["scene"]
        assert img.extent() == (100, -50, 40, 30)
        assert img.bounds() == (106, -46, 27, 16)
        assert img.shape == (30, 40, 1)
        assert np.array_equal(np.asarray(img), raw)
        assert np.array_equal(img.to_dask().compute(), raw)
        assert img.level(0).extent() == img.extent()
        c.export_file(tmp_path / "out.raw", image="scene")
    assert (tmp_path / "out.raw").read_bytes() == raw.tobytes()
