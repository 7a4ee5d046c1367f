"""Mapped images from Python: defined, sliced and read through Dask against numpy references
(a translated mosaic is numpy slicing of its sources), writes refused, materialized."""

import numpy as np
import pytest

import tessera
from conftest import random_pixels


def two_sources(c, rng):
    a = random_pixels(rng, np.uint16, (40, 60, 2))
    b = random_pixels(rng, np.uint16, (50, 30, 2))
    a[a == 0] = 1
    b[b == 0] = 1  # no pixel equal to the fill: every pixel of a source is data
    ia = c.create_image("a", np.uint16, 2, tile_size=16)
    ib = c.create_image("b", np.uint16, 2, tile_size=16)
    with c.transaction():
        ia[-10:30, -20:40] = a
        ib[0:50, 0:30] = b
    return a, b


def test_a_translated_mosaic_is_its_sources_placed(new_container):
    rng = np.random.default_rng(7)
    c = new_container()
    a, b = two_sources(c, rng)
    m = c.define_mapped("m", [{"image": "a", "offset": (5, -7)}, {"image": "b", "offset": (-3, 12)}],
                        blend="last")
    assert m.mapped["blend"] == "last"
    assert [s["image"] for s in m.mapped["sources"]] == ["a", "b"]
    # The reference: a canvas of the fill, a placed, then b over it (last wins).
    y0, x0 = m.origin
    h, w, _ = m.shape
    want = np.zeros((h, w, 2), np.uint16)
    want[-10 + 5 - y0:30 + 5 - y0, -20 - 7 - x0:40 - 7 - x0] = a
    want[0 - 3 - y0:50 - 3 - y0, 12 - x0:42 - x0] = b
    assert np.array_equal(np.asarray(m), want)
    assert np.array_equal(m[y0 + 3:y0 + 20, x0 + 5:x0 + 40, [1]], want[3:20, 5:40, [1]])
    # Dask: the same, chunk by chunk.
    assert np.array_equal(m.to_dask().compute(), want)
    assert "m" in c.images


def test_mapped_images_refuse_writes_and_materialize(new_container):
    rng = np.random.default_rng(8)
    c = new_container()
    two_sources(c, rng)
    c.define_mapped("m", [{"image": "a", "affine": (0.8, -0.3, 4, 0.3, 0.8, -2)}], resampling="bilinear")
    m = c["m"]
    with pytest.raises(tessera.InvalidArgument, match="mapped image"):
        with c.transaction():
            m[0:4, 0:4] = np.zeros((4, 4, 2), np.uint16)
    copy = c.materialize("m", "copy")
    assert copy.mapped is None
    assert copy.shape == m.shape and copy.origin == m.origin
    assert np.array_equal(np.asarray(copy), np.asarray(m))
    with pytest.raises(tessera.InvalidArgument, match="is a source of"):
        c.define_mapped("n", [{"image": "m"}])
        c.remove_mapped("m")
    c.remove_mapped("n")
    c.remove_mapped("m")
    assert "m" not in c.images
    with pytest.raises(tessera.NotFound):
        c.remove_mapped("m")
    with pytest.raises(tessera.InvalidArgument, match="'nope' is not an image"):
        c.define_mapped("bad", [{"image": "nope"}])
