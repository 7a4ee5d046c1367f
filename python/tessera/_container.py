"""Containers and images: the numpy face of the library (see the package docstring)."""

import contextlib
from collections import namedtuple

import numpy as np

from . import _errors
from . import _tessera

Region = namedtuple("Region", "x y width height")
Region.__doc__ = "A rectangle of pixels: its top-left corner (x, y) and its size."
Origin = namedtuple("Origin", "y x")
Origin.__doc__ = "The top-left pixel of an image's data, in numpy order (row, column)."

# The largest array np.asarray(image) makes: beyond it, slice the image or use to_dask().
MAX_ARRAY_BYTES = 2 << 30

_MODES = {"r": (False, True), "r+": (False, False), "w": (True, False)}


def open(path, mode="r", *, threads=0, tile_cache_bytes=0, lock=True):
    """Opens the container at `path`.

    mode "r": read-only; "r+": read and write an existing file; "w": create a new file (an
    existing one is never overwritten: AlreadyExists). lock=False opens a read-only file
    without its lock file (a copy on read-only shared storage that nobody writes). threads:
    decode and compression threads (0: one per core); tile_cache_bytes: a cache of decoded
    tiles. Use it as a context manager: `with tessera.open("scan.tsr") as c: ...`.
    """
    if mode not in _MODES:
        raise _errors.InvalidArgument(f"mode must be 'r', 'r+' or 'w', not {mode!r}")
    create, read_only = _MODES[mode]
    if not lock and not read_only:
        raise _errors.InvalidArgument("lock=False needs mode 'r': a writer must take the lock")
    core = _tessera.Container.open(str(path), create=create, read_only=read_only, no_lock=not lock,
                                   threads=threads, tile_cache_bytes=tile_cache_bytes)
    return Container(core, mode)


class Container:
    """An open container: its images by name, transactions, pyramids, import and export."""

    def __init__(self, core, mode):
        self._core = core
        self.mode = mode
        self._txn = None

    # -- lifetime
    def close(self):
        """Closes the file; an open transaction is aborted. Using the container again raises."""
        if self._txn is not None:
            self._txn.abort()
            self._txn = None
        self._core.close()

    @property
    def closed(self):
        return self._core.closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "closed" if self.closed else f"{self.mode!r}"
        return f"<tessera.Container {self.path if not self.closed else ''} {state}>"

    @property
    def path(self):
        return self._core.path

    @property
    def format_version(self):
        return self._core.format_version

    # -- images
    def _view(self):
        """The view reads go through: the open transaction (it sees its own writes), else a
        snapshot taken now (so another process's commits show up on the next read)."""
        if self._txn is not None:
            return self._txn
        return self._core.snapshot()

    @property
    def images(self):
        """The names of the images, in the order the file keeps them."""
        return [info["name"] for info in self._view().images()]

    def __getitem__(self, name):
        self._view().image(name)  # NotFound now rather than at the first read
        return Image(self, name)

    def __contains__(self, name):
        return name in self.images

    def create_image(self, name, dtype, bands=1, *, tile_size=256, fill=0, codec="lz4", filter="shuffle",
                     storage="chunky"):
        """Creates an image (in the open transaction, else in one of its own) and returns it.

        dtype: a numpy dtype of u8..u64, i8..i64, f32, f64; fill: what absent pixels read as
        (one value, or one per band); codec: "none", "lz4", "zstd[:LEVEL]"; filter: "none",
        "shuffle", "delta"; storage: "chunky" or "planar" (planar reads one band fast)."""
        names = {np.dtype(np.uint8): "u8", np.dtype(np.uint16): "u16", np.dtype(np.uint32): "u32",
                 np.dtype(np.uint64): "u64", np.dtype(np.int8): "i8", np.dtype(np.int16): "i16",
                 np.dtype(np.int32): "i32", np.dtype(np.int64): "i64", np.dtype(np.float32): "f32",
                 np.dtype(np.float64): "f64"}
        dt = np.dtype(dtype)
        if dt.newbyteorder("=") not in names:
            raise _errors.InvalidArgument(f"dtype {dt} is not one Tessera stores (u8..u64, i8..i64, f32, f64)")
        fills = [float(v) for v in np.atleast_1d(np.asarray(fill, dtype=np.float64))]
        with self._in_transaction() as txn:
            txn.create_image(name, names[dt.newbyteorder("=")], int(bands), int(tile_size), fills, codec, filter,
                             storage)
        return Image(self, name)

    # -- transactions
    @contextlib.contextmanager
    def transaction(self):
        """`with c.transaction() as t:` a write transaction: committed when the block ends,
        aborted when it raises. Image writes (img[...] = array) happen only inside one. One at a
        time per container; other processes wait for the file's write lock."""
        if self._txn is not None:
            raise _errors.InvalidArgument("a transaction is already open on this container")
        txn = self._core.begin_write()
        self._txn = txn
        try:
            yield Transaction(self, txn)
        except BaseException:
            txn.abort()
            raise
        else:
            txn.commit()
        finally:
            self._txn = None

    @contextlib.contextmanager
    def _in_transaction(self):
        if self._txn is not None:
            yield self._txn
        else:
            with self.transaction() as t:
                yield t._txn

    def merge(self, source, source_image, image=None, *, frame=0, source_frame=0):
        """Adopts the tiles image `source_image` (frame source_frame) of the container file
        `source` shows into `image` (default: the same name; frame == frames appends one), with
        their stored encoding: nothing is compressed again. The images must agree in dtype,
        bands, tile size, storage and fill. In the open transaction, else in one of its own."""
        with self._in_transaction() as txn:
            txn.merge(str(source), source_image, source_image if image is None else image, int(frame),
                      int(source_frame))

    def define_mapped(self, name, sources, *, blend="first", resampling="nearest", fill=None, replace=False):
        """Defines mapped image `name`: a view of other images placed by transforms, read
        through them and never copied (tessera/mapped.h). Returns it as an Image (writes refused).

        sources: dicts {"image": NAME, "frame": 0, "bands": [..] or None, and "offset": (y, x)
        (where the source's pixel (0, 0) lands) or "affine": (a, b, c, d, e, f) meaning
        x' = a x + b y + c, y' = d x + e y + f}. blend: first, last, mean, max (pixels equal to
        their source's fill are no-data); resampling: nearest, bilinear; fill: where no source
        has data (default the first source's). In the open transaction, else in one of its own."""
        defs = []
        for s in sources:
            if "offset" in s and "affine" in s:
                raise _errors.InvalidArgument(f"source {s.get('image')!r}: give an offset or an affine, not both")
            if "affine" in s:
                affine = tuple(float(v) for v in s["affine"])
            else:
                y, x = s.get("offset", (0, 0))
                affine = (1.0, 0.0, float(x), 0.0, 1.0, float(y))
            if len(affine) != 6:
                raise _errors.InvalidArgument(f"source {s.get('image')!r}: an affine has 6 coefficients")
            bands = s.get("bands")
            defs.append((s["image"], int(s.get("frame", 0)), None if bands is None else [int(b) for b in bands], affine))
        fills = [] if fill is None else [float(v) for v in np.atleast_1d(np.asarray(fill, dtype=np.float64))]
        with self._in_transaction() as txn:
            txn.define_mapped(name, defs, blend, resampling, fills, bool(replace))
        return Image(self, name)

    def remove_mapped(self, name):
        """Deletes mapped image `name` (its sources stay)."""
        with self._in_transaction() as txn:
            txn.remove_mapped(name)

    # -- long operations (the GIL is released while they run)
    def materialize(self, mapped, image, *, region=None, codec=None, progress=None):
        """Writes mapped image `mapped` out as the new ordinary image `image`, strip by strip,
        each strip committed. region: (x, y, width, height) as Image.read takes it, default its extent."""
        box = None if region is None else tuple(int(v) for v in region)
        self._core.materialize(mapped, image, box, codec, progress)
        return Image(self, image)

    def build_pyramid(self, image, *, levels=None, resampling="mean", frame=0, progress=None):
        """Builds pyramid levels 1..levels (None: until the data fits one tile) of a frame
        (frame=None: every frame), each committed batch by batch; reads at a level then work
        (img.level(l)). resampling: mean, nearest, mode, min, max."""
        self._core.build_pyramid(image, frame, 0 if levels is None else int(levels), resampling, progress)

    def import_file(self, src, *, image="", frame=0, codec=None, filter=None, tile_size=256, origin=(0, 0),
                    progress=None):
        """Imports a raster file (ENVI, TIFF, a slide OpenSlide reads) with its metadata.
        origin is where the source's pixel (0, 0) lands, as (y, x)."""
        self._core.import_file(str(src), image, frame, codec, filter, tile_size, int(origin[1]), int(origin[0]),
                               progress)

    def export_file(self, out, *, image="", frame=0, level=0, progress=None):
        """Exports the data of one frame as ENVI (any name) or TIFF (.tif, .tiff)."""
        self._core.export_file(str(out), image, frame, level, progress)


class Transaction:
    """The open write transaction of a container (Container.transaction())."""

    def __init__(self, container, txn):
        self._container = container
        self._txn = txn

    def set_attribute(self, image, name, value, frame=None):
        """Sets attribute `name` of an image (or of one of its frames): text, an integer, a real,
        or a list of one of them."""
        self._txn.set_attribute(image, name, value, frame)


def _level_box(box, level):
    """The level-L region covering level-0 region `box` (origin rounded down, end up)."""
    if box is None or level == 0:
        return box
    x0, y0 = box.x >> level, box.y >> level
    x1 = ((box.x + box.width - 1) >> level) + 1
    y1 = ((box.y + box.height - 1) >> level) + 1
    return Region(x0, y0, x1 - x0, y1 - y0)


class Image:
    """One image of a container, at one frame and pyramid level, indexed like a numpy array.

    Coordinates are the image's own: signed, on an unbounded canvas, and `img[y0:y1, x0:x1]`
    reads rows y0..y1-1 and columns x0..x1-1 of it (numpy order: rows first). Negative numbers
    are coordinates too, not counts from the end. An image whose data starts at x = -512:

        >>> img = c["scan"]
        >>> img.origin, img.shape
        (Origin(y=0, x=-512), (1024, 2048, 3))
        >>> tile = img[0:256, -512:-256]          # a 256 x 256 x 3 array
        >>> red_blue = img[0:256, -512:-256, [0, 2]]
        >>> img[:, :].shape                       # the whole data (open ends: its extent or bounds)
        (1024, 2048, 3)

    Only the tiles a slice touches are read; pixels outside the data read as the fill value.
    Steps (img[::2]) are refused: read the region and slice the array, or read a pyramid level
    (img.level(1)). Writes (img[y0:y1, x0:x1] = array) work inside `with c.transaction():`.
    """

    def __init__(self, container, name, frame=0, level=0):
        self._c = container
        self.name = name
        self._frame = frame
        self._level = level

    def _info(self):
        return self._c._view().image(self.name)

    def __repr__(self):
        return (f"<tessera.Image {self.name!r} frame {self._frame} level {self._level} shape {self.shape} "
                f"{self.dtype}>")

    # -- what the image is
    @property
    def dtype(self):
        return self._info()["dtype"]

    @property
    def bands(self):
        return self._info()["bands"]

    @property
    def fill(self):
        """The value of absent pixels, one per band."""
        fill = self._info()["fill"]
        return tuple(fill) if len(fill) > 1 else tuple(fill) * self.bands

    @property
    def frames(self):
        return self._info()["frames"]

    @property
    def mapped(self):
        """A mapped image's definition (sources, blend, resampling); None for an ordinary image."""
        return self._info()["mapped"]

    @property
    def levels(self):
        """The pyramid levels built for this frame (0: none)."""
        return self._c._view().levels(self.name, self._frame)

    @property
    def chunks(self):
        """The tile grid, as (rows, columns, bands) of one tile."""
        tile = self._info()["tile_size"]
        return (tile, tile, self.bands)

    @property
    def attributes(self):
        """The attributes describing this frame: the image's, each overridden by the frame's."""
        return self._c._view().attributes(self.name, self._frame)

    def bounds(self, precision="exact"):
        """The bounding box of the data of this frame at this level as Region(x, y, width,
        height), or None when it holds none. precision: exact (of the pixels that differ from
        the fill), leaf, root or operative (cheaper, possibly larger boxes)."""
        box = self._c._view().bounds(self.name, self._frame, precision)
        return _level_box(None if box is None else Region(*box), self._level)

    def extent(self):
        """The region this frame was declared to cover at this level (an import declares the
        region its raster landed on, fill included) as Region(x, y, width, height), or None."""
        box = self._c._view().extent(self.name, self._frame)
        return _level_box(None if box is None else Region(*box), self._level)

    def area(self):
        """What this frame is as an array: its extent, or without one its data's bounds (None
        when it has neither)."""
        box = self.extent()
        return self.bounds() if box is None else box

    @property
    def origin(self):
        box = self.area()
        return Origin(0, 0) if box is None else Origin(box.y, box.x)

    @property
    def shape(self):
        box = self.area()
        bands = self.bands
        return (0, 0, bands) if box is None else (box.height, box.width, bands)

    ndim = 3

    @property
    def size(self):
        h, w, b = self.shape
        return h * w * b

    @property
    def nbytes(self):
        return self.size * self.dtype.itemsize

    def frame(self, n):
        """This image at frame n."""
        return Image(self._c, self.name, int(n), self._level)

    def level(self, level):
        """This image at pyramid level `level` (its coordinates are level 0's divided by 2^level)."""
        return Image(self._c, self.name, self._frame, int(level))

    # -- reading
    def read(self, region=None, *, bands=None, interleave="bip", frame=None, level=None, out=None):
        """Reads `region` (x, y, width, height; default: area(), the extent or the data's bounds)
        of `bands` (default all, in order) into `out` (or a new array) laid out as interleave: "bip" (rows, columns,
        bands), "bil" (rows, bands, columns) or "bsq" (bands, rows, columns). `out` may be in C
        or Fortran order (any non-negative strides): the library writes into it directly."""
        frame = self._frame if frame is None else int(frame)
        level = self._level if level is None else int(level)
        if region is None:
            region = self.frame(frame).level(level).area()
            if region is None:
                raise _errors.InvalidArgument(
                    f"image '{self.name}' frame {frame} holds no data and declares no extent: name a region")
        x, y, w, h = (int(v) for v in region)
        band_list = list(range(self.bands)) if bands is None else [int(b) for b in bands]
        if out is None:
            shape = {"bip": (h, w, len(band_list)), "bil": (h, len(band_list), w), "bsq": (len(band_list), h, w)}
            if interleave not in shape:
                raise _errors.InvalidArgument(f"interleave must be bip, bil or bsq, not {interleave!r}")
            out = np.empty(shape[interleave], dtype=self.dtype)
        self._c._view().read(self.name, x, y, w, h, frame, level, band_list, interleave, out)
        return out

    def _parse_key(self, key):
        """(x, y, width, height, bands, dropped axes) for a numpy-style key."""
        if not isinstance(key, tuple):
            key = (key,)
        if len(key) > 3:
            raise _errors.InvalidArgument(f"an image has 3 axes (rows, columns, bands), not {len(key)}")
        key = key + (slice(None),) * (3 - len(key))
        # Open slice ends stand for area() (looked up only when needed: writing a new frame has
        # none yet).
        open_ends = any(isinstance(k, slice) and (k.start is None or k.stop is None) for k in key[:2])
        box = self.area() if open_ends else None
        starts = (0, 0) if box is None else (box.y, box.x)
        sizes = (0, 0) if box is None else (box.height, box.width)
        spans, drop = [], []
        for axis, k in enumerate(key[:2]):
            if isinstance(k, slice):
                if k.step not in (None, 1):
                    raise _errors.InvalidArgument(
                        f"steps are not supported (step {k.step} on the {('rows', 'columns')[axis]}): read the "
                        f"region and slice the array, or read a pyramid level (img.level(1))")
                lo = starts[axis] if k.start is None else int(k.start)
                hi = starts[axis] + sizes[axis] if k.stop is None else int(k.stop)
                spans.append((lo, max(hi, lo)))
            elif isinstance(k, (int, np.integer)):
                spans.append((int(k), int(k) + 1))
                drop.append(axis)
            else:
                raise _errors.InvalidArgument(f"rows and columns take an int or a slice, not {type(k).__name__}")
        nb = self.bands
        k = key[2]
        if isinstance(k, slice):
            if k.step not in (None, 1):
                raise _errors.InvalidArgument(f"steps are not supported (step {k.step} on the bands): "
                                              "name the bands in a list")
            band_list = list(range(nb))[k]
        elif isinstance(k, (int, np.integer)):
            band_list = [int(k) + nb if int(k) < 0 else int(k)]
            drop.append(2)
        else:
            band_list = [int(b) + nb if int(b) < 0 else int(b) for b in k]
        (y0, y1), (x0, x1) = spans
        return x0, y0, x1 - x0, y1 - y0, band_list, drop

    def __getitem__(self, key):
        x, y, w, h, band_list, drop = self._parse_key(key)
        if w == 0 or h == 0 or not band_list:
            out = np.empty((h, w, len(band_list)), dtype=self.dtype)
        else:
            out = self.read((x, y, w, h), bands=band_list)
        return out.squeeze(axis=tuple(drop)) if drop else out

    def __array__(self, dtype=None):
        size = self.nbytes
        if size > MAX_ARRAY_BYTES:
            h, w, b = self.shape
            raise _errors.InvalidArgument(
                f"image '{self.name}' is {w} x {h} pixels of {b} bands of {self.dtype}: {size / 1e9:.1f} GB as one "
                f"array, over tessera.MAX_ARRAY_BYTES ({MAX_ARRAY_BYTES / 1e9:.1f} GB): slice it (img[y0:y1, x0:x1]) "
                f"or use img.to_dask()")
        out = self[:, :]
        return out if dtype is None else out.astype(dtype, copy=False)

    # -- writing
    def __setitem__(self, key, value):
        txn = self._c._txn
        if txn is None:
            raise _errors.InvalidArgument("writes to an image happen inside `with container.transaction():`")
        if self._level != 0:
            raise _errors.InvalidArgument("pyramid levels are read-only: write level 0 and the levels follow")
        x, y, w, h, band_list, _ = self._parse_key(key)
        if isinstance(value, np.ndarray) and value.dtype != self.dtype:
            raise _errors.InvalidArgument(f"the array's dtype {value.dtype} is not image '{self.name}''s {self.dtype}"
                                          " (convert it with astype first)")
        array = np.asarray(value, dtype=self.dtype)
        if array.ndim == 2 and len(band_list) == 1:
            array = array[:, :, np.newaxis]
        try:
            array = np.broadcast_to(array, (h, w, len(band_list)))
        except ValueError:
            raise _errors.InvalidArgument(f"an array of shape {np.shape(value)} does not fit a region of {h} rows, "
                                          f"{w} columns and {len(band_list)} bands") from None
        if 0 in array.strides or any(s < 0 for s in array.strides):
            array = np.ascontiguousarray(array)
        if w and h and band_list:
            txn.write(self.name, x, y, self._frame, band_list, array)

    # -- dask
    def to_dask(self, frame=None, level=None, bands=None, *, chunk_tiles=None, lock=True):
        """A dask.array of this frame (its area(): extent or data bounds) at `level`, chunked on the tile grid:
        chunks of chunk_tiles x chunk_tiles tiles (default: about 1024 pixels square), cut at
        tile boundaries. Its tasks open the file read-only in the worker (lock=False: without
        the lock file, for a file on shared storage that nobody writes); nothing but the path
        is pickled."""
        from . import _dask
        return _dask.to_dask(self, self._frame if frame is None else int(frame),
                             self._level if level is None else int(level), bands, chunk_tiles, lock)
