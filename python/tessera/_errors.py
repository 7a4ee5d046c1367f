"""The exceptions of tessera: one class per library error code, all TesseraError.

Each also derives from the built-in exception a Python user would catch for it
(InvalidArgument is a ValueError, NotFound a LookupError, IoError an OSError, ...), so code
written against the standard exceptions keeps working. The message is the library's: it
names the file, image, tile or value at fault.
"""


class TesseraError(Exception):
    """An error reported by the Tessera library."""


class InvalidArgument(TesseraError, ValueError):
    """A region, band, name or option out of range."""


class NotFound(TesseraError, LookupError):
    """A file, image, frame or level that does not exist."""


class AlreadyExists(TesseraError, FileExistsError):
    """create on an existing file, an image name already taken."""


class Corrupt(TesseraError):
    """Bytes on disk failed a check (a checksum, a record's bounds): the file is damaged."""


class Unsupported(TesseraError):
    """A format version or feature this build does not know."""


class IoError(TesseraError, OSError):
    """The operating system refused a read, write, sync or map."""


class NoSpace(TesseraError, OSError):
    """The disk or the map is full."""


class Busy(TesseraError):
    """Another transaction or process holds the write lock."""


class ReadOnly(TesseraError):
    """A write to a container opened read-only, or to a file that was replaced."""


class InternalError(TesseraError):
    """A broken invariant inside Tessera: a bug."""
