#include "io/tiff_open.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <limits>
#include <utility>

#include "io/source_identity.h"
#include "io/tiff_tags.h"

namespace tessera::io_detail {

// ---------------------------------------------------------------------------------------------
// TiffBytes

TiffBytes::TiffBytes(std::string name, detail::File file, const uint8_t* data,
                     SourceIdentity identity)
    : name_(std::move(name)), file_(std::move(file)), data_(data), size_(identity.size),
      identity_(std::move(identity)) {}

Result<std::shared_ptr<const TiffBytes>> TiffBytes::open_file(const std::string& path) {
  auto file = detail::File::open_for_reading(path);
  if (!file) return file.status();
  auto st = file->stat();
  if (!st) return st.status();
  if (!S_ISREG(st->st_mode))
    return Status(Code::kInvalidArgument, path + ": not a regular file");
  return std::shared_ptr<const TiffBytes>(
      new TiffBytes(path, std::move(file).value(), nullptr, file_identity(path, *st)));
}

std::shared_ptr<const TiffBytes> TiffBytes::in_memory(std::string name, const uint8_t* data,
                                                      size_t size) {
  SourceIdentity identity{name, size, 0};
  return std::shared_ptr<const TiffBytes>(
      new TiffBytes(std::move(name), detail::File(), data, std::move(identity)));
}

int64_t TiffBytes::read_at(void* dst, uint64_t size, uint64_t offset) const {
  if (offset >= size_ || size == 0) return 0;
  const uint64_t n = std::min(size, size_ - offset);
  if (!file_.is_open()) {
    std::memcpy(dst, data_ + offset, n);
    return int64_t(n);
  }
  uint64_t done = 0;
  const int err = detail::pread_fully(file_.fd(), dst, n, offset, &done);
  if (err != 0 && err != detail::kEndOfFile) {
    errno = err;
    return -1;
  }
  return int64_t(done);  // short when the file shrank since it was opened
}

// ---------------------------------------------------------------------------------------------
// What libtiff's callbacks reach

namespace {

// Bytes of each kind of message a handle keeps: the first messages say what went wrong, and
// a damaged file can make libtiff repeat itself thousands of times.
constexpr size_t kMaxMessageBytes = 2048;

}  // namespace

struct TiffHandle::State {
  std::string name;
  std::shared_ptr<const TiffBytes> bytes;  // when reading
  int fd = -1;                             // when writing (the caller's descriptor)
  uint64_t position = 0;
  int io_errno = 0;
  bool discarding = false;  // discard(): nothing more is written, and libtiff's complaints go
  std::string errors, warnings;

  uint64_t size() const {
    if (bytes) return bytes->size();
    struct stat st;
    return ::fstat(fd, &st) == 0 ? uint64_t(st.st_size) : 0;
  }
};

namespace {

using State = TiffHandle::State;

State* state_of(thandle_t handle) { return static_cast<State*>(handle); }

void append_message(std::string& out, const char* module, const std::string& name,
                    const char* format, va_list args) {
  if (out.size() >= kMaxMessageBytes) return;
  char text[512];
  std::vsnprintf(text, sizeof text, format, args);
  if (!out.empty()) out += "; ";
  // libtiff names the function that complains, or the file itself, which the caller's message
  // names already.
  if (module && *module && name != module) out += std::string(module) + ": ";
  out += text;
  if (out.size() >= kMaxMessageBytes) out += " ...";
}

int on_error(TIFF*, void* user, const char* module, const char* format, va_list args) {
  auto* state = static_cast<State*>(user);
  if (state->discarding) return 1;
  append_message(state->errors, module, state->name, format, args);
  return 1;  // handled: libtiff's global handler (stderr) is not called
}

int on_warning(TIFF*, void* user, const char* module, const char* format, va_list args) {
  auto* state = static_cast<State*>(user);
  append_message(state->warnings, module, state->name, format, args);
  return 1;
}

tmsize_t read_proc(thandle_t handle, void* buffer, tmsize_t size) {
  State* s = state_of(handle);
  if (size < 0) return -1;
  int64_t n;
  if (s->bytes) {
    n = s->bytes->read_at(buffer, uint64_t(size), s->position);
  } else {
    uint64_t done = 0;
    const int err = detail::pread_fully(s->fd, buffer, uint64_t(size), s->position, &done);
    n = err != 0 && err != detail::kEndOfFile ? -1 : int64_t(done);
    if (n < 0) errno = err;
  }
  if (n < 0) {
    s->io_errno = errno;
    return -1;
  }
  s->position += uint64_t(n);
  return tmsize_t(n);
}

tmsize_t write_proc(thandle_t handle, void* buffer, tmsize_t size) {
  State* s = state_of(handle);
  if (s->discarding) return -1;
  if (s->fd < 0 || size < 0) {
    s->io_errno = EBADF;
    return -1;
  }
  uint64_t done = 0;
  const int err = detail::pwrite_fully(s->fd, buffer, uint64_t(size), s->position, &done);
  s->position += done;
  if (err != 0) {
    s->io_errno = err;
    return -1;
  }
  return tmsize_t(done);
}

toff_t seek_proc(thandle_t handle, toff_t offset, int whence) {
  State* s = state_of(handle);
  uint64_t base = 0;
  switch (whence) {
    case SEEK_SET: base = 0; break;
    case SEEK_CUR: base = s->position; break;
    case SEEK_END: base = s->size(); break;
    default: return toff_t(-1);
  }
  uint64_t target;
  if (__builtin_add_overflow(base, uint64_t(offset), &target) ||
      target > uint64_t(std::numeric_limits<int64_t>::max())) {
    s->io_errno = EINVAL;
    return toff_t(-1);
  }
  s->position = target;
  return toff_t(target);
}

int close_proc(thandle_t) { return 0; }  // the descriptor belongs to TiffBytes or the caller
toff_t size_proc(thandle_t handle) { return toff_t(state_of(handle)->size()); }
int map_proc(thandle_t, void**, toff_t*) { return 0; }  // never mapped
void unmap_proc(thandle_t, void*, toff_t) {}

struct OptionsDeleter {
  void operator()(TIFFOpenOptions* options) const { TIFFOpenOptionsFree(options); }
};

TIFF* client_open(State* state, const char* mode, uint64_t max_alloc) {
  register_tiff_tags();  // before any open: the GeoTIFF and GDAL tags are read by name
  std::unique_ptr<TIFFOpenOptions, OptionsDeleter> options(TIFFOpenOptionsAlloc());
  if (!options) return nullptr;
  TIFFOpenOptionsSetErrorHandlerExtR(options.get(), on_error, state);
  TIFFOpenOptionsSetWarningHandlerExtR(options.get(), on_warning, state);
  if (max_alloc > 0)
    TIFFOpenOptionsSetMaxSingleMemAlloc(
        options.get(),
        tmsize_t(std::min<uint64_t>(max_alloc, uint64_t(std::numeric_limits<tmsize_t>::max()))));
  return TIFFClientOpenExt(state->name.c_str(), mode, state, read_proc, write_proc, seek_proc,
                           close_proc, size_proc, map_proc, unmap_proc, options.get());
}

}  // namespace

// Little- and big-endian, classic (42) and BigTIFF (43).
bool is_tiff_signature(const uint8_t b[4]) {
  return (b[0] == 'I' && b[1] == 'I' && (b[2] == 42 || b[2] == 43) && b[3] == 0) ||
         (b[0] == 'M' && b[1] == 'M' && b[2] == 0 && (b[3] == 42 || b[3] == 43));
}

// ---------------------------------------------------------------------------------------------
// TiffHandle

TiffHandle::TiffHandle(std::unique_ptr<State> state, TIFF* tiff)
    : state_(std::move(state)), tiff_(tiff) {}
TiffHandle::TiffHandle(TiffHandle&&) noexcept = default;
TiffHandle& TiffHandle::operator=(TiffHandle&&) noexcept = default;
TiffHandle::~TiffHandle() = default;

void TiffHandle::Closer::operator()(TIFF* tiff) const { TIFFClose(tiff); }

Result<TiffHandle> TiffHandle::open_for_reading(std::shared_ptr<const TiffBytes> bytes,
                                                uint64_t max_alloc) {
  uint8_t signature[4] = {};
  const int64_t got = bytes->read_at(signature, sizeof signature, 0);
  if (got < 0) return detail::os_error(bytes->name(), "read at offset 0", errno);
  if (got < 4 || !is_tiff_signature(signature))
    return Status(Code::kInvalidArgument,
                  bytes->name() + ": not a TIFF file (no TIFF or BigTIFF signature)");
  auto state = std::make_unique<State>();
  state->name = bytes->name();
  state->bytes = std::move(bytes);
  // r: read; m: never map the file; h: the header only; c: strips as the file has them (no
  // chopping of a huge uncompressed strip: the source streams large strips itself).
  TIFF* tiff = client_open(state.get(), "rmhc", max_alloc);
  if (!tiff)
    return Status(Code::kCorrupt, state->name + ": libtiff cannot read the header: " +
                                      (state->errors.empty() ? "no reason given" : state->errors));
  state->warnings.clear();
  return TiffHandle(std::move(state), tiff);
}

Result<TiffHandle> TiffHandle::open_for_writing(const detail::File& file, const char* mode) {
  auto state = std::make_unique<State>();
  state->name = file.path();
  state->fd = file.fd();
  TIFF* tiff = client_open(state.get(), mode, 0);
  if (!tiff)
    return Status(Code::kIoError, state->name + ": libtiff cannot start a TIFF (mode \"" + mode +
                                      "\"): " +
                                      (state->errors.empty() ? "no reason given" : state->errors));
  return TiffHandle(std::move(state), tiff);
}

const std::string& TiffHandle::name() const { return state_->name; }
bool TiffHandle::has_errors() const { return !state_->errors.empty(); }
std::string TiffHandle::take_errors() { return std::exchange(state_->errors, {}); }
bool TiffHandle::has_warnings() const { return !state_->warnings.empty(); }
std::string TiffHandle::take_warnings() { return std::exchange(state_->warnings, {}); }
void TiffHandle::clear_messages() {
  state_->errors.clear();
  state_->warnings.clear();
  state_->io_errno = 0;
}
void TiffHandle::discard() {
  state_->discarding = true;
  tiff_.reset();
}
int TiffHandle::io_errno() const { return state_->io_errno; }

}  // namespace tessera::io_detail
