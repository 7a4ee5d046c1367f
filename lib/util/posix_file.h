// POSIX files as Status values: one RAII descriptor, whole reads and writes that retry short
// transfers and EINTR, and the one mapping from errno to a Code that every layer uses (the
// core's files, verify's scratch files, the shared-memory cache, the converters of io/).
//
// Messages name the path, the operation and strerror: "PATH: WHAT: No space left on device".
#pragma once

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "tessera/status.h"

namespace tessera::detail {

// The Code of a failed system call: ENOENT is kNotFound, EEXIST kAlreadyExists (an O_EXCL
// create or a link onto a name taken); ENOSPC, EDQUOT and EFBIG (the file
// size limit) are kNoSpace, so a full disk reads the same whichever layer hit it; the rest
// (EACCES, EPERM and EROFS included) is kIoError.
Code errno_code(int err);

// Status(errno_code(err), "PATH: WHAT: strerror(err)"). `path` may be any subject a message
// names ("shared tile cache /name", "verify").
Status os_error(std::string_view path, std::string_view what, int err);

// pread_fully's result when the file ends before `size` bytes were read.
inline constexpr int kEndOfFile = -1;

// One call moves at most 1 GiB: Linux caps a single transfer a little below 2 GiB anyway.
inline constexpr uint64_t kMaxTransfer = uint64_t(1) << 30;

// Reads exactly `size` bytes at `offset` into `dst`, retrying short reads and EINTR. Returns 0,
// the errno of the read that failed, or kEndOfFile; `*done` (when given) is how many bytes
// arrived before that. Inline and free of Status so that callers that only count faults
// (verify's page walk, compiled alone into a fuzz target) share it.
inline int pread_fully(int fd, void* dst, uint64_t size, uint64_t offset, uint64_t* done = nullptr) {
  auto* p = static_cast<uint8_t*>(dst);
  uint64_t got = 0;
  int result = 0;
  while (got < size) {
    const uint64_t left = size - got;
    const ssize_t n = ::pread(fd, p + got, size_t(left < kMaxTransfer ? left : kMaxTransfer),
                              off_t(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      result = n == 0 ? kEndOfFile : errno;
      break;
    }
    got += uint64_t(n);
  }
  if (done) *done = got;
  return result;
}

// Writes exactly `size` bytes at `offset`, retrying short writes and EINTR. Returns 0 or the
// errno of the write that failed; `*done` as for pread_fully.
inline int pwrite_fully(int fd, const void* src, uint64_t size, uint64_t offset,
                        uint64_t* done = nullptr) {
  const auto* p = static_cast<const uint8_t*>(src);
  uint64_t put = 0;
  int result = 0;
  while (put < size) {
    const uint64_t left = size - put;
    const ssize_t n = ::pwrite(fd, p + put, size_t(left < kMaxTransfer ? left : kMaxTransfer),
                               off_t(offset + put));
    if (n < 0) {
      if (errno == EINTR) continue;
      result = errno;
      break;
    }
    put += uint64_t(n);
  }
  if (done) *done = put;
  return result;
}

// An open file descriptor with the path its messages name; closed when destroyed.
class File {
 public:
  File() = default;
  File(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  File(File&& other) noexcept : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}
  File& operator=(File&& other) noexcept {
    std::swap(fd_, other.fd_);
    std::swap(path_, other.path_);
    return *this;
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }

  // open(2) with O_CLOEXEC added; a failure is "PATH: WHAT: ...".
  static Result<File> open(const std::string& path, int flags, mode_t mode, std::string_view what);
  // For reading: "PATH: cannot open: ...".
  static Result<File> open_for_reading(const std::string& path);
  // Created or truncated, for writing (mode 0644): "PATH: cannot create: ...".
  static Result<File> create_for_writing(const std::string& path);

  int fd() const { return fd_; }
  bool is_open() const { return fd_ >= 0; }
  const std::string& path() const { return path_; }

  // Exactly `size` bytes at `offset`; the end of the file first is kIoError "PATH: unexpected
  // end of file at offset N".
  Status read_at(void* dst, uint64_t size, uint64_t offset) const;
  Status write_at(const void* src, uint64_t size, uint64_t offset) const;
  // ftruncate: "PATH: cannot size to N bytes: ...".
  Status resize(uint64_t size) const;
  // fstat: "PATH: stat: ...".
  Result<struct stat> stat() const;
  // fsync, or fdatasync with `data_only`: "PATH: WHAT: ...".
  Status sync(bool data_only, std::string_view what) const;
  // Closes now and reports what close() says (it can report a deferred write error):
  // "PATH: close: ...".
  Status close();

 private:
  int fd_ = -1;
  std::string path_;
};

// Whether `path` names anything stat() can reach (symbolic links followed).
bool file_exists(const std::string& path);
// rename(2): "FROM: WHAT: ...".
Status rename_file(const std::string& from, const std::string& to, std::string_view what);
// unlink(2) for cleanup: what went wrong does not matter, the name is gone or never was.
void remove_file(const std::string& path);
// fsync of the directory holding `path` (the current one for a bare name), which makes a
// rename or a creation in it durable: "DIR: open for sync: ..." or "DIR: fsync: ...".
Status sync_directory_of(const std::string& path);

}  // namespace tessera::detail
