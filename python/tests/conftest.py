"""Fixtures of the Python tests: a scratch directory per test, random images."""

import numpy as np
import pytest

import tessera

DTYPES = [np.uint8, np.uint16, np.uint32, np.uint64, np.int8, np.int16, np.int32, np.int64, np.float32,
          np.float64]


def random_pixels(rng, dtype, shape):
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return rng.normal(0, 1000, shape).astype(dt)
    info = np.iinfo(dt)
    return rng.integers(info.min, info.max, shape, dtype=dt, endpoint=True)


@pytest.fixture
def new_container(tmp_path):
    """A function making a new container in the test's directory (closed at the end)."""
    opened = []

    def make(name="t.tsr"):
        c = tessera.open(tmp_path / name, "w")
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.close()
