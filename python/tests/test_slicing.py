"""Slicing and reads against numpy: random images of every dtype at negative origins, band
subsets, frames, pyramid levels, reads into caller arrays in C and Fortran order."""

import numpy as np
import pytest

import tessera
from conftest import DTYPES, random_pixels


@pytest.mark.parametrize("dtype", DTYPES)
def test_slices_match_numpy(new_container, dtype):
    rng = np.random.default_rng(abs(hash(np.dtype(dtype).name)) % 1000)
    c = new_container()
    bands = int(rng.integers(1, 5))
    img = c.create_image("img", dtype, bands, tile_size=16, fill=0)
    y0, x0 = int(rng.integers(-300, 300)), int(rng.integers(-300, 300))
    h, w = int(rng.integers(20, 90)), int(rng.integers(20, 90))
    ref = random_pixels(rng, dtype, (h, w, bands))
    ref[ref == 0] = 1  # no pixel equal to the fill: the bounds are the written region
    with c.transaction():
        img[y0:y0 + h, x0:x0 + w] = ref
    assert img.origin == (y0, x0)
    assert img.shape == (h, w, bands)
    assert img.dtype == np.dtype(dtype)
    assert np.array_equal(np.asarray(img), ref)
    for _ in range(20):
        a, b = sorted(int(v) for v in rng.integers(y0 - 20, y0 + h + 20, 2))
        d, e = sorted(int(v) for v in rng.integers(x0 - 20, x0 + w + 20, 2))
        band_list = [int(v) for v in rng.permutation(bands)[:int(rng.integers(1, bands + 1))]]
        got = img[a:b, d:e, band_list]
        # numpy reference: the canvas around the image, fill outside it
        canvas = np.zeros((h + 40, w + 40, bands), dtype=dtype)
        canvas[20:20 + h, 20:20 + w] = ref
        want = canvas[a - (y0 - 20):b - (y0 - 20), d - (x0 - 20):e - (x0 - 20)][:, :, band_list]
        assert got.shape == want.shape
        assert np.array_equal(got, want, equal_nan=np.dtype(dtype).kind == "f")
    # Integer indices drop their axis, as in numpy.
    assert np.array_equal(img[y0, x0], ref[0, 0])
    assert np.array_equal(img[y0 + 1, x0:x0 + 5, bands - 1], ref[1, 0:5, bands - 1])
    assert np.array_equal(img[y0:y0 + 3, x0 + 2, -1], ref[0:3, 2, -1])


def test_negative_origin_docstring_example(new_container):
    c = new_container()
    img = c.create_image("scan", np.uint8, 3, tile_size=16)
    with c.transaction():
        img[0:64, -32:32] = 7
    assert img.origin == tessera.Origin(y=0, x=-32)
    assert img[0:16, -32:-16].shape == (16, 16, 3)
    assert img[:, :].shape == (64, 64, 3)
    assert (img[0:64, -40:-32] == 0).all()  # outside the data: the fill


def test_steps_and_bad_keys_are_refused(new_container):
    c = new_container()
    img = c.create_image("img", np.uint8, 2, tile_size=16)
    with c.transaction():
        img[0:32, 0:32] = 1
    with pytest.raises(tessera.InvalidArgument, match="steps are not supported"):
        img[::2]
    with pytest.raises(tessera.InvalidArgument, match="steps are not supported"):
        img[0:10, 0:10:3]
    with pytest.raises(tessera.InvalidArgument, match="3 axes"):
        img[0, 0, 0, 0]
    with pytest.raises(tessera.InvalidArgument):
        img[0:4, 0:4, [5]]  # no band 5
    with pytest.raises(ValueError):  # InvalidArgument is a ValueError too
        img["a"]


def test_read_into_c_and_fortran_arrays(new_container):
    rng = np.random.default_rng(3)
    c = new_container()
    img = c.create_image("img", np.int16, 3, tile_size=16)
    ref = random_pixels(rng, np.int16, (40, 50, 3))
    with c.transaction():
        img[-10:30, 5:55] = ref
    region = (5, -10, 50, 40)
    for order in "CF":
        out = np.zeros((40, 50, 3), dtype=np.int16, order=order)
        assert img.read(region, out=out) is out
        assert np.array_equal(out, ref)
    bsq = img.read(region, interleave="bsq", bands=[2, 0])
    assert np.array_equal(bsq, ref[:, :, [2, 0]].transpose(2, 0, 1))
    bil = np.empty((40, 3, 50), dtype=np.int16, order="F")
    img.read(region, interleave="bil", out=bil)
    assert np.array_equal(bil, ref.transpose(0, 2, 1))
    with pytest.raises(tessera.InvalidArgument, match="dtype"):
        img.read(region, out=np.zeros((40, 50, 3), dtype=np.int32))
    with pytest.raises(tessera.InvalidArgument, match="shape"):
        img.read(region, out=np.zeros((40, 51, 3), dtype=np.int16))
    with pytest.raises(tessera.InvalidArgument, match="negative stride"):
        img.read(region, out=np.zeros((40, 50, 3), dtype=np.int16)[::-1])
    frozen = np.zeros((40, 50, 3), dtype=np.int16)
    frozen.flags.writeable = False
    with pytest.raises(tessera.InvalidArgument, match="read-only"):
        img.read(region, out=frozen)


def test_asarray_refuses_a_gigapixel_image(new_container):
    c = new_container()
    img = c.create_image("big", np.uint8, 3, tile_size=256)
    with c.transaction():
        img[0, 0] = 1
        img[99_999, 99_999] = 1
    assert img.shape == (100_000, 100_000, 3)
    with pytest.raises(tessera.InvalidArgument, match=r"100000 x 100000 pixels of 3 bands of uint8: 30.0 GB"):
        np.asarray(img)
    assert img[99_990:100_000, 99_990:100_000].sum() == 3  # slicing still works


def test_frames_and_levels(new_container):
    rng = np.random.default_rng(5)
    c = new_container()
    img = c.create_image("seq", np.uint16, 2, tile_size=16)
    f0 = rng.integers(1, 1000, (64, 64, 2), dtype=np.uint16)
    f1 = f0.copy()
    f1[10:20, 10:20] = 77
    with c.transaction():
        img[-32:32, -32:32] = f0
        img.frame(1)[-22:-12, -22:-12] = f1[10:20, 10:20]  # frame 1: a copy of frame 0, then the edit
    assert img.frames == 2
    assert np.array_equal(img.frame(0)[-32:32, -32:32], f0)
    assert np.array_equal(img.frame(1)[-32:32, -32:32], f1)
    with pytest.raises(tessera.NotFound, match="pyramid level 1 has not been built"):
        img.level(1)[0:4, 0:4]
    c.build_pyramid("seq", levels=2, frame=None)
    assert img.levels == 2 and img.frame(1).levels == 2
    lvl = img.level(1)
    assert lvl.origin == (-16, -16) and lvl.shape == (32, 32, 2)
    # mean of each 2 x 2 block, rounded half away from zero (no fill pixels in the data)
    want = (f0.reshape(32, 2, 32, 2, 2).astype(np.int64).sum(axis=(1, 3)) + 2) // 4
    assert np.array_equal(lvl[-16:16, -16:16], want)
    want1 = (f1.reshape(32, 2, 32, 2, 2).astype(np.int64).sum(axis=(1, 3)) + 2) // 4
    assert np.array_equal(img.frame(1).level(1)[-16:16, -16:16], want1)
    with pytest.raises(tessera.InvalidArgument, match="read-only"):
        with c.transaction():
            lvl[0:2, 0:2] = 1


def test_attributes_and_bounds(new_container):
    c = new_container()
    img = c.create_image("img", np.float32, 1, tile_size=16, fill=np.nan)
    with c.transaction() as t:
        img[5:9, -3:4] = 1.5
        t.set_attribute("img", "wavelength", [450.0, 550.0])
        t.set_attribute("img", "unit", "nm")
        t.set_attribute("img", "unit", "um", frame=0)
    assert img.attributes == {"wavelength": [450.0, 550.0], "unit": "um"}
    assert img.bounds() == tessera.Region(-3, 5, 7, 4)
    assert img.bounds("operative").width >= 7
    assert np.isnan(img.fill[0])
    assert np.isnan(img[0, 0, 0])
    assert img.chunks == (16, 16, 1)
