"""Tessera from Python: gigapixel images indexed like numpy arrays, read tile by tile.

    import tessera
    with tessera.open("scan.tsr") as c:
        img = c["scan"]                      # an Image: shape, dtype, origin, chunks, ...
        block = img[0:512, -256:256]         # numpy array; only the tiles it touches are read
        band2 = img[0:512, 0:512, 2]
        small = img.level(3)[0:100, 0:100]   # a pyramid level (tessera pyramid FILE)

    with tessera.open("scan.tsr", "r+") as c, c.transaction():
        c["scan"][0:256, 0:256] = 0          # committed when the block ends, aborted on error

    arr = c["scan"].to_dask()                # a dask.array on the tile grid
    tessera.store(arr, "out.tsr", "result")  # compression runs in the workers

Coordinates are the image's own signed ones (an image may start at negative x). Errors are
tessera.TesseraError subclasses by the library's code (NotFound, InvalidArgument, Corrupt,
NoSpace, Busy, ...) with its message. The GIL is released while the library works, so reads
from several threads run in parallel.
"""

from ._errors import (AlreadyExists, Busy, Corrupt, InternalError, InvalidArgument, IoError, NoSpace, NotFound,
                      ReadOnly, TesseraError, Unsupported)
from ._container import MAX_ARRAY_BYTES, Container, Image, Origin, Region, Transaction, open
from . import _tessera

__version__ = _tessera.version()


def verify(path, deep=False):
    """Checks the file against every invariant of its format: {"clean": bool, "faults":
    [(invariant, message), ...]}. deep also decodes every chunk."""
    return _tessera.verify(str(path), deep)


def store(array, path, name, **options):
    """Writes a dask array into image `name` of the container at `path` (see tessera._store)."""
    from ._store import store as _store_impl
    return _store_impl(array, path, name, **options)


__all__ = ["open", "verify", "store", "Container", "Image", "Transaction", "Region", "Origin", "MAX_ARRAY_BYTES",
           "TesseraError", "InvalidArgument", "NotFound", "AlreadyExists", "Corrupt", "Unsupported", "IoError",
           "NoSpace", "Busy", "ReadOnly", "InternalError"]
