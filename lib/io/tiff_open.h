// Opening TIFF files through libtiff with its messages captured, for the TIFF source and sink.
//
// libtiff reports errors and warnings through handlers that print on stderr unless told
// otherwise. Every handle made here has handlers of its own (TIFFOpenOptions, libtiff 4.5)
// that keep the messages in the handle, so that they end up in the Status of the call that
// failed and nothing is ever printed. Never open a TIFF in lib/io any other way.
//
// Handles read through libtiff's client I/O over TiffBytes (pread on a file, or bytes in
// memory for the fuzz target), so a file and a buffer take the same path through libtiff, and
// several handles can read one file at offsets of their own (one per band of a planar page
// read row by row). Nothing is memory-mapped: what a read costs in memory is what libtiff and
// the caller allocate, not pages of the file.
#pragma once

#include <tiffio.h>

#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "tessera/io.h"
#include "tessera/status.h"
#include "util/posix_file.h"

namespace tessera::io_detail {

// The bytes of a TIFF: a file open for reading, or a buffer. Immutable and shared by every
// handle open on it.
class TiffBytes {
 public:
  // The file at `path`, open for reading; its size and modification time are taken now.
  // "PATH: cannot open: ..." (kNotFound when it does not exist).
  static Result<std::shared_ptr<const TiffBytes>> open_file(const std::string& path);
  // `size` bytes at `data`, which must outlive every handle on them; messages call them `name`.
  static std::shared_ptr<const TiffBytes> in_memory(std::string name, const uint8_t* data,
                                                    size_t size);

  // What messages call the bytes: the path as given, or the buffer's name.
  const std::string& name() const { return name_; }
  uint64_t size() const { return size_; }
  // What a resumed import compares: the file's absolute path, size and modification time
  // when it was opened (a buffer's name and size, time 0).
  const SourceIdentity& identity() const { return identity_; }

  // Reads up to `size` bytes at `offset` into `dst`: the count read (less at the end of the
  // bytes), or -1 with errno set.
  int64_t read_at(void* dst, uint64_t size, uint64_t offset) const;

 private:
  TiffBytes(std::string name, detail::File file, const uint8_t* data, SourceIdentity identity);

  std::string name_;
  detail::File file_;
  const uint8_t* data_ = nullptr;  // a buffer (when file_ is closed)
  uint64_t size_ = 0;
  SourceIdentity identity_;
};

// Whether the first four bytes of a file are a TIFF or BigTIFF signature: II*\0, MM\0*, II+\0 or
// MM\0+.
bool is_tiff_signature(const uint8_t first4[4]);

// An open libtiff handle and the messages libtiff gave about it.
class TiffHandle {
 public:
  // Opens `bytes` for reading, its header only: no directory is read yet (TIFFSetDirectory or
  // TIFFReadDirectory selects one), so that a page libtiff refuses does not hide the others.
  // libtiff never allocates more than `max_alloc` bytes at once for it (a damaged file that
  // claims huge arrays is refused instead). kInvalidArgument naming the bytes when they do not
  // begin with a TIFF or BigTIFF header; kCorrupt when the header is damaged.
  static Result<TiffHandle> open_for_reading(std::shared_ptr<const TiffBytes> bytes,
                                             uint64_t max_alloc);
  // Opens `file`, which must be open for reading and writing, in libtiff `mode` ("w", or "w8"
  // for BigTIFF; "l" or "b" for the byte order). The descriptor stays the caller's: closing the
  // handle does not close it. Call TIFFFlush before dropping the handle and check has_errors():
  // TIFFClose cannot report a failure.
  static Result<TiffHandle> open_for_writing(const detail::File& file, const char* mode);

  TiffHandle(TiffHandle&&) noexcept;
  TiffHandle& operator=(TiffHandle&&) noexcept;
  ~TiffHandle();

  TIFF* get() const { return tiff_.get(); }
  // What messages call the handle's file.
  const std::string& name() const;

  // Errors libtiff reported since they were last taken, joined with "; ", each as
  // "FUNCTION: message" (the function libtiff named, when it named one); empty when none.
  bool has_errors() const;
  std::string take_errors();
  // Warnings, likewise (kept apart: most are harmless, some say that a decode went wrong).
  bool has_warnings() const;
  std::string take_warnings();
  // Forgets every message so far, and the errno of a read or write that failed.
  void clear_messages();
  // Closes the handle without writing anything more (dropping a handle open for writing
  // would have libtiff write its directory): for an output that is being thrown away.
  void discard();
  // The errno of the last read or write of the file that failed (0 when none did), for
  // detail::os_error: a full disk is kNoSpace whichever layer hit it.
  int io_errno() const;

  struct State;  // what libtiff's callbacks reach: the bytes, the position, the messages

 private:
  TiffHandle(std::unique_ptr<State> state, TIFF* tiff);

  struct Closer {
    void operator()(TIFF* tiff) const;
  };
  std::unique_ptr<State> state_;
  std::unique_ptr<TIFF, Closer> tiff_;  // after state_: closed before the state goes
};

}  // namespace tessera::io_detail
