// Streaming import and export of raw rasters described by ENVI headers (tessera/envi.h).
//
// This file sits on top of the public API only (Container, WriteTxn, Snapshot) plus POSIX
// file I/O: it is a client of the library, like the tools, and must never reach into the
// store or format layers. Both directions walk the raster in strips of one tile row, each
// cut into column blocks of at most kBlockBudget bytes, so memory stays bounded whatever the
// raster's size; blocks are aligned to the image's tile grid so that every stored tile is
// written whole once instead of read-modified-written by two neighbouring blocks.
#include "tessera/envi.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tessera {
namespace {

// Largest buffer one block may take (a block is always at least one tile wide).
constexpr uint64_t kBlockBudget = uint64_t(64) << 20;
// ENVI headers are small text files; anything bigger is not one.
constexpr uint64_t kMaxHeaderBytes = uint64_t(16) << 20;

std::string in_quotes(std::string_view text) { return "'" + std::string(text) + "'"; }

Status os_error(Code code, const std::string& path, std::string_view what, int err) {
  return Status(code, path + ": " + std::string(what) + ": " + std::strerror(err));
}

// ---------------------------------------------------------------------------------------------
// Files

// An open file descriptor, closed on destruction.
class File {
 public:
  File() = default;
  explicit File(int fd) : fd_(fd) {}
  File(File&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  File& operator=(File&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }
  // Closes now and reports what close() says (it can report a deferred write error).
  int close() { return fd_ >= 0 ? ::close(std::exchange(fd_, -1)) : 0; }

 private:
  int fd_ = -1;
};

Result<File> open_for_reading(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return os_error(errno == ENOENT ? Code::kNotFound : Code::kIoError, path, "cannot open",
                    errno);
  return File(fd);
}

Result<File> create_for_writing(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return os_error(errno == ENOENT ? Code::kNotFound : Code::kIoError, path, "cannot create",
                    errno);
  return File(fd);
}

Status read_exactly(const File& file, uint8_t* data, uint64_t size, uint64_t offset,
                    const std::string& path) {
  while (size > 0) {
    ssize_t n = ::pread(file.fd(), data, std::min<uint64_t>(size, uint64_t(1) << 30), off_t(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error(Code::kIoError, path, "read at offset " + std::to_string(offset), errno);
    }
    if (n == 0)
      return Status(Code::kIoError,
                    path + ": unexpected end of file at offset " + std::to_string(offset));
    data += n, size -= uint64_t(n), offset += uint64_t(n);
  }
  return Status::ok();
}

Status write_exactly(const File& file, const uint8_t* data, uint64_t size, uint64_t offset,
                     const std::string& path) {
  while (size > 0) {
    ssize_t n = ::pwrite(file.fd(), data, std::min<uint64_t>(size, uint64_t(1) << 30), off_t(offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return os_error(errno == ENOSPC ? Code::kNoSpace : Code::kIoError, path,
                      "write at offset " + std::to_string(offset), errno);
    }
    data += n, size -= uint64_t(n), offset += uint64_t(n);
  }
  return Status::ok();
}

Status sync_and_close(File& file, const std::string& path) {
  if (::fdatasync(file.fd()) != 0) return os_error(Code::kIoError, path, "sync", errno);
  if (file.close() != 0) return os_error(Code::kIoError, path, "close", errno);
  return Status::ok();
}

Status rename_file(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0)
    return os_error(Code::kIoError, from, "cannot rename to '" + to + "'", errno);
  return Status::ok();
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// ---------------------------------------------------------------------------------------------
// Raster geometry shared by import and export

uint64_t mul_saturated(uint64_t a, uint64_t b) {
  uint64_t product;
  return __builtin_mul_overflow(a, b, &product) ? std::numeric_limits<uint64_t>::max() : product;
}

// The first multiple of `tile` above v (the end of v's tile), saturated at INT64_MAX.
int64_t tile_end(int64_t v, int64_t tile) {
  int64_t start = v - (((v % tile) + tile) % tile);
  return start > std::numeric_limits<int64_t>::max() - tile ? std::numeric_limits<int64_t>::max()
                                                              : start + tile;
}
int64_t tile_start(int64_t v, int64_t tile) { return v - (((v % tile) + tile) % tile); }

// Calls fn(block) for the blocks of `area`: strips one tile row high aligned to the tile grid,
// each cut into column blocks aligned to it holding at most kBlockBudget bytes (at least one
// tile wide). Stops at the first error fn returns.
template <typename Fn>
Status for_each_block(const Region& area, uint32_t tile_size, uint64_t pixel_bytes, Fn&& fn) {
  const int64_t tile = tile_size;
  for (int64_t y = area.y; y < area.y_end();) {
    const int64_t y_end = std::min(area.y_end(), tile_end(y, tile));
    const uint64_t row_bytes = mul_saturated(pixel_bytes, uint64_t(y_end - y));
    const int64_t tiles_across =
        std::max<int64_t>(1, int64_t(std::min<uint64_t>(kBlockBudget / row_bytes / uint64_t(tile),
                                                        uint64_t(1) << 40)));
    for (int64_t x = area.x; x < area.x_end();) {
      const int64_t start = tile_start(x, tile);
      const int64_t span = tiles_across * tile;
      const int64_t end = start > std::numeric_limits<int64_t>::max() - span
                              ? std::numeric_limits<int64_t>::max()
                              : start + span;
      const int64_t x_end = std::min(area.x_end(), end);
      TESSERA_RETURN_IF_ERROR(fn(Region{x, y, x_end - x, y_end - y}));
      x = x_end;
    }
    y = y_end;
  }
  return Status::ok();
}

// One contiguous run shared by a raster file and a block buffer.
struct Segment {
  uint64_t file_offset;
  uint64_t buffer_offset;
  uint64_t size;
};

// The runs that connect a block buffer, densely packed in `interleave`, with a raster file of
// `width` x `height` x `bands` samples in the same interleave (offsets from the first sample).
// `block` is in the raster's own coordinates (0,0 = its first pixel). Runs that are
// contiguous in both are merged, so a full-width block is one read or write per band (BSQ)
// or in all (BIP, BIL).
std::vector<Segment> block_segments(Interleave interleave, int64_t width, int64_t height,
                                    uint64_t bands, uint64_t sample_bytes, const Region& block) {
  const uint64_t W = uint64_t(width), H = uint64_t(height);
  const uint64_t x = uint64_t(block.x), y0 = uint64_t(block.y);
  const uint64_t w = uint64_t(block.width), h = uint64_t(block.height);
  std::vector<Segment> runs;
  auto add = [&runs](uint64_t file_offset, uint64_t buffer_offset, uint64_t size) {
    if (!runs.empty()) {
      Segment& last = runs.back();
      if (last.file_offset + last.size == file_offset &&
          last.buffer_offset + last.size == buffer_offset) {
        last.size += size;
        return;
      }
    }
    runs.push_back({file_offset, buffer_offset, size});
  };
  switch (interleave) {
    case Interleave::kBIP:  // [y][x][band]: one run per line
      for (uint64_t r = 0; r < h; ++r)
        add(((y0 + r) * W + x) * bands * sample_bytes, r * w * bands * sample_bytes,
            w * bands * sample_bytes);
      break;
    case Interleave::kBIL:  // [y][band][x]: one run per line and band
      for (uint64_t r = 0; r < h; ++r)
        for (uint64_t b = 0; b < bands; ++b)
          add((((y0 + r) * bands + b) * W + x) * sample_bytes, (r * bands + b) * w * sample_bytes,
              w * sample_bytes);
      break;
    case Interleave::kBSQ:  // [band][y][x]: one run per band and line
      for (uint64_t b = 0; b < bands; ++b)
        for (uint64_t r = 0; r < h; ++r)
          add(((b * H + y0 + r) * W + x) * sample_bytes, (b * h + r) * w * sample_bytes,
              w * sample_bytes);
      break;
  }
  return runs;
}

template <typename T, T (*Swap)(T)>
void swap_samples(uint8_t* data, uint64_t count) {
  for (uint64_t i = 0; i < count; ++i) {
    T v;
    std::memcpy(&v, data + i * sizeof(T), sizeof(T));
    v = Swap(v);
    std::memcpy(data + i * sizeof(T), &v, sizeof(T));
  }
}
uint16_t bswap16(uint16_t v) { return __builtin_bswap16(v); }
uint32_t bswap32(uint32_t v) { return __builtin_bswap32(v); }
uint64_t bswap64(uint64_t v) { return __builtin_bswap64(v); }

void swap_byte_order(uint8_t* data, uint64_t size, size_t sample_bytes) {
  switch (sample_bytes) {
    case 2: swap_samples<uint16_t, bswap16>(data, size / 2); break;
    case 4: swap_samples<uint32_t, bswap32>(data, size / 4); break;
    case 8: swap_samples<uint64_t, bswap64>(data, size / 8); break;
    default: break;
  }
}

// ---------------------------------------------------------------------------------------------
// Header parsing

std::string_view trim(std::string_view s) {
  const char* space = " \t\r\n\f\v";
  const size_t first = s.find_first_not_of(space);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(space) - first + 1);
}

// Header keys compare case-insensitively with runs of blanks counted as one space.
std::string normalize_key(std::string_view key) {
  std::string out;
  bool blank = false;
  for (char c : trim(key)) {
    if (c == ' ' || c == '\t') {
      blank = true;
      continue;
    }
    if (blank && !out.empty()) out += ' ';
    blank = false;
    out += char(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

template <typename T>
bool parse_whole(std::string_view text, T* value) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return ec == std::errc() && end == text.data() + text.size();
}

// The key = value pairs of a header (values without their braces), or why it is malformed.
Result<std::map<std::string, std::string>> parse_fields(const std::string& path,
                                                        std::string_view text) {
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);  // UTF-8 byte order mark
  size_t pos = 0;
  int line_number = 0;
  auto next_line = [&]() -> std::string_view {
    const size_t end = std::min(text.find('\n', pos), text.size());
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_number;
    return line;
  };
  if (trim(next_line()) != "ENVI")
    return Status(Code::kInvalidArgument,
                  path + ": not an ENVI header (the first line must be 'ENVI')");
  std::map<std::string, std::string> fields;
  while (pos < text.size()) {
    std::string_view line = trim(next_line());
    if (line.empty() || line.front() == ';') continue;  // blank or comment
    const size_t eq = line.find('=');
    const std::string key = eq == std::string_view::npos ? "" : normalize_key(line.substr(0, eq));
    if (key.empty())
      return Status(Code::kInvalidArgument, path + ": line " + std::to_string(line_number) + ": " +
                                                in_quotes(line) + " is not 'key = value'");
    std::string value(trim(line.substr(eq + 1)));
    if (value.starts_with("{")) {  // a braced value may span lines
      const int first_line = line_number;
      while (value.find('}') == std::string::npos && pos < text.size())
        value += "\n" + std::string(trim(next_line()));
      const size_t close = value.find('}');
      if (close == std::string::npos)
        return Status(Code::kInvalidArgument,
                      path + ": field '" + key + "' (line " + std::to_string(first_line) +
                          "): '{' without a closing '}'");
      value = std::string(trim(std::string_view(value).substr(1, close - 1)));
    }
    fields[key] = std::move(value);
  }
  return fields;
}

// Typed access to the parsed fields; every error names the header, the field and the value.
class HeaderFields {
 public:
  HeaderFields(std::string path, std::map<std::string, std::string> fields)
      : path_(std::move(path)), fields_(std::move(fields)) {}

  const std::string* find(const std::string& key) const {
    auto it = fields_.find(key);
    return it == fields_.end() ? nullptr : &it->second;
  }
  Status missing(const std::string& key) const {
    return Status(Code::kInvalidArgument, path_ + ": missing required field '" + key + "'");
  }
  Status bad(const std::string& key, const std::string& value, const std::string& why) const {
    return Status(Code::kInvalidArgument,
                  path_ + ": field '" + key + "': " + in_quotes(value) + " " + why);
  }
  // An integer field in [lo, hi]; `fallback` when absent (required when fallback is empty).
  template <typename T>
  Result<T> integer(const std::string& key, T lo, T hi, std::optional<T> fallback = {}) const {
    const std::string* value = find(key);
    if (!value) {
      if (fallback) return *fallback;
      return missing(key);
    }
    T parsed{};
    if (parse_whole(*value, &parsed) && parsed >= lo && parsed <= hi) return parsed;
    return bad(key, *value,
               hi == std::numeric_limits<T>::max()
                   ? "is not a whole number of at least " + std::to_string(lo)
                   : "is not a whole number from " + std::to_string(lo) + " to " +
                         std::to_string(hi));
  }

 private:
  std::string path_;
  std::map<std::string, std::string> fields_;
};

Result<DataType> header_data_type(const HeaderFields& fields) {
  const std::string* text = fields.find("data type");
  if (!text) return fields.missing("data type");
  int code = 0;
  Result<DataType> type = parse_whole(*text, &code) ? envi_code_to_type(code)
                                                     : Result<DataType>(Code::kInvalidArgument, "");
  if (!type)
    return fields.bad("data type", *text,
                      "is not a supported ENVI data type (1, 2, 3, 4, 5, 12, 13, 14 or 15)");
  // Our extension for types ENVI has no code for (i8): the name of the type, of the same size.
  if (const std::string* name = fields.find("tessera data type")) {
    auto named = parse_data_type(*name);
    if (!named) return fields.bad("tessera data type", *name, "is not a sample type");
    if (sample_size(*named) != sample_size(*type))
      return fields.bad("tessera data type", *name,
                        "does not match data type " + *text + " (" +
                            std::string(data_type_name(*type)) + ")");
    type = *named;
  }
  return type;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public: data type codes and headers

Result<DataType> envi_code_to_type(int code) {
  switch (code) {
    case 1: return DataType::kU8;
    case 2: return DataType::kI16;
    case 3: return DataType::kI32;
    case 4: return DataType::kF32;
    case 5: return DataType::kF64;
    case 12: return DataType::kU16;
    case 13: return DataType::kU32;
    case 14: return DataType::kI64;
    case 15: return DataType::kU64;
    default: break;
  }
  return Status(Code::kInvalidArgument,
                "ENVI data type " + std::to_string(code) +
                    " is not supported (supported: 1, 2, 3, 4, 5, 12, 13, 14, 15)");
}

int envi_type_to_code(DataType type) {
  switch (type) {
    case DataType::kU8: return 1;
    case DataType::kI8: return 1;  // with "tessera data type = i8" beside it
    case DataType::kI16: return 2;
    case DataType::kI32: return 3;
    case DataType::kF32: return 4;
    case DataType::kF64: return 5;
    case DataType::kU16: return 12;
    case DataType::kU32: return 13;
    case DataType::kI64: return 14;
    case DataType::kU64: return 15;
  }
  return 0;
}

Result<std::string> find_envi_header(const std::string& raw_path) {
  const std::string appended = raw_path + ".hdr";
  if (file_exists(appended)) return appended;
  const std::string replaced = std::filesystem::path(raw_path).replace_extension(".hdr").string();
  if (replaced != appended && file_exists(replaced)) return replaced;
  std::string tried = in_quotes(appended);
  if (replaced != appended) tried += " or " + in_quotes(replaced);
  return Status(Code::kNotFound, raw_path + ": no ENVI header found (tried " + tried + ")");
}

Result<EnviHeader> read_envi_header(const std::string& header_path) {
  auto file = open_for_reading(header_path);
  if (!file) return file.status();
  struct stat st;
  if (::fstat(file->fd(), &st) != 0) return os_error(Code::kIoError, header_path, "stat", errno);
  if (!S_ISREG(st.st_mode))
    return Status(Code::kInvalidArgument, header_path + ": not a regular file");
  if (uint64_t(st.st_size) > kMaxHeaderBytes)
    return Status(Code::kInvalidArgument, header_path + ": " + std::to_string(st.st_size) +
                                              " bytes is too large for an ENVI header");
  std::string text(size_t(st.st_size), '\0');
  TESSERA_RETURN_IF_ERROR(read_exactly(*file, reinterpret_cast<uint8_t*>(text.data()),
                                       text.size(), 0, header_path));

  auto parsed = parse_fields(header_path, text);
  if (!parsed) return parsed.status();
  const HeaderFields fields(header_path, std::move(parsed).value());
  constexpr int64_t kMaxSide = std::numeric_limits<int64_t>::max();

  EnviHeader header;
  auto samples = fields.integer<int64_t>("samples", 1, kMaxSide);
  if (!samples) return samples.status();
  auto lines = fields.integer<int64_t>("lines", 1, kMaxSide);
  if (!lines) return lines.status();
  auto bands = fields.integer<uint32_t>("bands", 1, std::numeric_limits<uint32_t>::max());
  if (!bands) return bands.status();
  auto type = header_data_type(fields);
  if (!type) return type.status();
  auto offset = fields.integer<uint64_t>("header offset", 0, std::numeric_limits<uint64_t>::max(),
                                         uint64_t(0));
  if (!offset) return offset.status();
  auto byte_order = fields.integer<int>("byte order", 0, 1, 0);
  if (!byte_order) return byte_order.status();
  header.samples = *samples;
  header.lines = *lines;
  header.bands = *bands;
  header.type = *type;
  header.header_offset = *offset;
  header.big_endian = *byte_order == 1;
  if (const std::string* interleave = fields.find("interleave")) {
    std::string lower;
    for (char c : *interleave) lower += char(std::tolower(static_cast<unsigned char>(c)));
    auto parsed_interleave = parse_interleave(lower);
    if (!parsed_interleave)
      return fields.bad("interleave", *interleave, "is not bsq, bil or bip");
    header.interleave = *parsed_interleave;
  }
  return header;
}

namespace {

// Writes the header text to `path` as it is (no temporary file).
Status write_header_file(const std::string& path, const EnviHeader& header) {
  std::string text = "ENVI\n";
  text += "description = {written by Tessera}\n";
  text += "samples = " + std::to_string(header.samples) + "\n";
  text += "lines = " + std::to_string(header.lines) + "\n";
  text += "bands = " + std::to_string(header.bands) + "\n";
  text += "header offset = " + std::to_string(header.header_offset) + "\n";
  text += "file type = ENVI Standard\n";
  text += "data type = " + std::to_string(envi_type_to_code(header.type)) + "\n";
  text += "interleave = " + std::string(interleave_name(header.interleave)) + "\n";
  text += "byte order = 0\n";
  if (header.type == DataType::kI8) text += "tessera data type = i8\n";
  auto file = create_for_writing(path);
  if (!file) return file.status();
  TESSERA_RETURN_IF_ERROR(
      write_exactly(*file, reinterpret_cast<const uint8_t*>(text.data()), text.size(), 0, path));
  return sync_and_close(*file, path);
}

}  // namespace

Status write_envi_header(const std::string& header_path, const EnviHeader& header) {
  const std::string part = header_path + ".part";
  Status status = write_header_file(part, header);
  if (status) status = rename_file(part, header_path);
  if (!status) ::unlink(part.c_str());
  return status;
}

// ---------------------------------------------------------------------------------------------
// Import

namespace {

// Everything an import needs to know about its source, checked before anything is written.
struct ImportSource {
  std::string path;
  EnviHeader header;
  File file;
  size_t sample_bytes = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
};

// For import records and messages: "ENVI 300x200x3 u8 bip, header offset 0, little-endian".
std::string describe(const EnviHeader& h) {
  return "ENVI " + std::to_string(h.samples) + "x" + std::to_string(h.lines) + "x" +
         std::to_string(h.bands) + " " + std::string(data_type_name(h.type)) + " " +
         std::string(interleave_name(h.interleave)) + ", header offset " +
         std::to_string(h.header_offset) + (h.big_endian ? ", big-endian" : ", little-endian");
}

Result<ImportSource> open_import_source(const std::string& src) {
  auto header_path = find_envi_header(src);
  if (!header_path) return header_path.status();
  auto header = read_envi_header(*header_path);
  if (!header) return header.status();
  auto file = open_for_reading(src);
  if (!file) return file.status();
  struct stat st;
  if (::fstat(file->fd(), &st) != 0) return os_error(Code::kIoError, src, "stat", errno);

  ImportSource source{src, *header, std::move(file).value(), sample_size(header->type), uint64_t(st.st_size),
                      int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
  uint64_t expected = mul_saturated(
      mul_saturated(mul_saturated(uint64_t(header->samples), uint64_t(header->lines)),
                    header->bands),
      source.sample_bytes);
  if (expected > std::numeric_limits<uint64_t>::max() - header->header_offset)
    expected = std::numeric_limits<uint64_t>::max();
  else
    expected += header->header_offset;
  if (uint64_t(st.st_size) < expected)
    return Status(Code::kInvalidArgument,
                  src + ": file too short for its header " + in_quotes(*header_path) + ": expected " +
                      std::to_string(expected) + " bytes (" + std::to_string(header->samples) +
                      " samples x " + std::to_string(header->lines) + " lines x " +
                      std::to_string(header->bands) + " bands x " +
                      std::to_string(source.sample_bytes) + " bytes + header offset " +
                      std::to_string(header->header_offset) + "), found " +
                      std::to_string(st.st_size));
  return source;
}

std::string default_image_name(const std::string& src) {
  return std::filesystem::path(src).stem().string();
}

// Why an existing image cannot take this import, or OK.
Status check_existing_image(const ImageInfo& info, const ImportSource& source,
                            const ImportOptions& options) {
  const std::string image = "image '" + info.name + "'";
  if (info.spec.type != source.header.type || info.spec.bands != source.header.bands)
    return Status(Code::kInvalidArgument,
                  source.path + ": " + image + " holds " + std::to_string(info.spec.bands) +
                      " bands of " + std::string(data_type_name(info.spec.type)) +
                      " but the source has " + std::to_string(source.header.bands) + " bands of " +
                      std::string(data_type_name(source.header.type)));
  if (options.codec && *options.codec != info.spec.codec)
    return Status(Code::kInvalidArgument,
                  source.path + ": " + image + " stores chunks with codec " +
                      codec_spec_name(info.spec.codec) + "; an import cannot change it to " +
                      codec_spec_name(*options.codec));
  if (options.frame > info.frames)
    return Status(Code::kNotFound, source.path + ": " + image + " has " +
                                       std::to_string(info.frames) + " frames; cannot write frame " +
                                       std::to_string(options.frame));
  return Status::ok();
}

ImageSpec new_image_spec(const ImportSource& source, const ImportOptions& options) {
  ImageSpec spec;
  spec.type = source.header.type;
  spec.bands = source.header.bands;
  spec.tile_size = options.tile_size;
  spec.fill = {0.0};
  if (options.codec) spec.codec = *options.codec;
  return spec;
}

// Streams one import: blocks are collected into batches of about batch_bytes raw bytes and
// each batch is one Container::write (re-reading its blocks from the file if it is retried).
class Importer {
 public:
  Importer(Container& container, ImportSource& source, const ImportOptions& options,
           std::string image, Region area, uint32_t tile_size)
      : container_(container), source_(source), options_(options), image_(std::move(image)),
        area_(area), tile_size_(tile_size),
        pixel_bytes_(uint64_t(source.header.bands) * source.sample_bytes) {}

  // The fixed order of blocks the import writes: how many there are.
  uint64_t block_count() const {
    uint64_t n = 0;
    (void)for_each_block(area_, tile_size_, pixel_bytes_, [&](const Region&) {
      ++n;
      return Status::ok();
    });
    return n;
  }

  // Imports every block after the first `skip` (committed by an interrupted run) in batches,
  // recording the progress with each.
  Result<ImportResult> run(ImportProgress progress, uint64_t skip) {
    progress_ = std::move(progress);
    progress_.blocks_done = progress_.bytes_done = 0;
    uint64_t index = 0;
    TESSERA_RETURN_IF_ERROR(for_each_block(area_, tile_size_, pixel_bytes_, [&](const Region& b) {
      const uint64_t bytes = b.pixel_count() * pixel_bytes_;
      if (index++ < skip) {
        ++progress_.blocks_done, progress_.bytes_done += bytes;
        return Status::ok();
      }
      batch_.push_back(b);
      batch_bytes_ += bytes;
      return batch_bytes_ >= std::max<uint64_t>(options_.batch_bytes, 1) ? flush() : Status::ok();
    }));
    if (!batch_.empty() || skip == 0) TESSERA_RETURN_IF_ERROR(flush());
    return ImportResult{progress_, skip, false};
  }

 private:
  Status flush() {
    ImportProgress next = progress_;
    next.blocks_done += batch_.size();
    next.bytes_done += batch_bytes_;
    TESSERA_RETURN_IF_ERROR(container_.write([&](WriteTxn& txn) {
      TESSERA_RETURN_IF_ERROR(write_batch(txn));
      return txn.record_import(image_, next);
    }));
    progress_ = next;
    batch_.clear();
    batch_bytes_ = 0;
    if (options_.progress) options_.progress(progress_.bytes_done, progress_.bytes_total);
    return Status::ok();
  }

  Status write_batch(WriteTxn& txn) {
    TESSERA_RETURN_IF_ERROR(ensure_image(txn));
    const EnviHeader& h = source_.header;
    for (const Region& block : batch_) {
      // The block in the source's own coordinates.
      const Region raw{block.x - area_.x, block.y - area_.y, block.width, block.height};
      const uint64_t size = block.pixel_count() * pixel_bytes_;
      if (size > buffer_size_) {
        buffer_ = std::make_unique_for_overwrite<uint8_t[]>(size);
        buffer_size_ = size;
      }
      for (const Segment& run :
           block_segments(h.interleave, h.samples, h.lines, h.bands, source_.sample_bytes, raw))
        TESSERA_RETURN_IF_ERROR(read_exactly(source_.file, buffer_.get() + run.buffer_offset,
                                             run.size, h.header_offset + run.file_offset,
                                             source_.path));
      if (h.big_endian) swap_byte_order(buffer_.get(), size, source_.sample_bytes);
      const Strides strides =
          Strides::packed(h.interleave, block.width, block.height, h.bands, source_.sample_bytes);
      TESSERA_RETURN_IF_ERROR(txn.write(image_, block, Selection{options_.frame, 0, {}},
                                        buffer_.get(), size, strides)
                                  .with_context(source_.path));
    }
    return Status::ok();
  }

  // The image exists in this transaction with the right type (created on the first batch).
  Status ensure_image(WriteTxn& txn) {
    auto info = txn.image(image_);
    if (info) return check_existing_image(*info, source_, options_);
    if (info.status().code() != Code::kNotFound) return info.status();
    if (options_.frame != 0)
      return Status(Code::kNotFound, source_.path + ": image '" + image_ +
                                         "' does not exist yet: only frame 0 can be imported");
    return txn.create_image(image_, new_image_spec(source_, options_)).with_context(source_.path);
  }

  Container& container_;
  ImportSource& source_;
  const ImportOptions& options_;
  const std::string image_;
  const Region area_;
  const uint32_t tile_size_;
  const uint64_t pixel_bytes_;
  std::vector<Region> batch_;
  uint64_t batch_bytes_ = 0;
  ImportProgress progress_;
  std::unique_ptr<uint8_t[]> buffer_;
  uint64_t buffer_size_ = 0;
};

}  // namespace

Result<ImportResult> import_envi(Container& container, const std::string& src, const ImportOptions& options) {
  auto source = open_import_source(src);
  if (!source) return source.status();
  const std::string image = options.image.empty() ? default_image_name(src) : options.image;

  const Region area{options.origin_x, options.origin_y, source->header.samples,
                    source->header.lines};
  if (!area.is_valid())
    return Status(Code::kInvalidArgument,
                  src + ": origin " + std::to_string(options.origin_x) + "," +
                      std::to_string(options.origin_y) + " puts the raster (" +
                      std::to_string(area.width) + "x" + std::to_string(area.height) +
                      ") beyond the coordinate space");

  // What this import is: resuming requires the very same source, placed the same way.
  ImportProgress progress;
  progress.source = std::filesystem::absolute(src).lexically_normal().string();
  progress.source_size = source->size;
  progress.source_mtime_ns = source->mtime_ns;
  progress.description = describe(source->header);
  progress.frame = options.frame;
  progress.origin_x = options.origin_x;
  progress.origin_y = options.origin_y;
  progress.bytes_total = mul_saturated(area.pixel_count(), uint64_t(source->header.bands) * source->sample_bytes);

  // Check an existing image (and an earlier run of this import) before writing anything; a
  // new image is created by the first batch.
  uint32_t tile_size = options.tile_size;
  std::optional<ImportProgress> earlier;
  {
    auto snapshot = container.snapshot();
    if (!snapshot) return snapshot.status();
    auto info = snapshot->image(image);
    if (info) {
      TESSERA_RETURN_IF_ERROR(check_existing_image(*info, *source, options));
      tile_size = info->spec.tile_size;
      auto imports = snapshot->imports(image);
      if (!imports) return imports.status();
      for (const ImportProgress& p : *imports)
        if (p.frame == options.frame) earlier = p;
    } else if (info.status().code() != Code::kNotFound) {
      return info.status();
    }
  }
  if (tile_size == 0)
    return Status(Code::kInvalidArgument, src + ": tile size 0 is not a power of two");
  Importer importer(container, *source, options, image, area, tile_size);
  progress.blocks_total = importer.block_count();
  uint64_t skip = 0;
  if (options.resume && earlier) {
    const std::string where = container.path() + ": image '" + image + "' frame " + std::to_string(options.frame);
    ImportProgress same = progress;
    same.blocks_done = earlier->blocks_done, same.bytes_done = earlier->bytes_done;
    if (same != *earlier)
      return Status(Code::kInvalidArgument,
                    where + ": the import recorded there was of " + earlier->source + " (" + earlier->description +
                        ", " + std::to_string(earlier->source_size) + " bytes, at " +
                        std::to_string(earlier->origin_x) + "," + std::to_string(earlier->origin_y) +
                        "), not of " + progress.source + " (" + progress.description + ", " +
                        std::to_string(progress.source_size) + " bytes, at " + std::to_string(progress.origin_x) +
                        "," + std::to_string(progress.origin_y) +
                        ") as it is now: resume it with that source, or import without resuming");
    if (earlier->finished()) return ImportResult{*earlier, earlier->blocks_done, true};
    skip = earlier->blocks_done;
  }
  return importer.run(progress, skip);
}

// ---------------------------------------------------------------------------------------------
// Export

namespace {

// What an export reads, resolved and checked before any file is created.
struct ExportPlan {
  std::string image;
  ImageInfo info;
  Region region;
  std::vector<uint32_t> bands;  // explicit, in output order
  size_t sample_bytes = 0;
};

Result<ExportPlan> plan_export(const View& view, const ExportOptions& options) {
  ExportPlan plan;
  auto info = view.image_or_only(options.image);
  if (!info) return info.status();
  plan.image = info->name;
  plan.info = *info;
  plan.sample_bytes = sample_size(plan.info.spec.type);
  const std::string image = view.path() + ": image '" + plan.image + "'";
  if (options.frame >= plan.info.frames)
    return Status(Code::kNotFound, image + " has " + std::to_string(plan.info.frames) +
                                       " frames; frame " + std::to_string(options.frame) +
                                       " does not exist");
  for (uint32_t band : options.bands)
    if (band >= plan.info.spec.bands)
      return Status(Code::kInvalidArgument, image + " has " + std::to_string(plan.info.spec.bands) +
                                                " bands (0 to " +
                                                std::to_string(plan.info.spec.bands - 1) +
                                                "); band " + std::to_string(band) +
                                                " is out of range");
  plan.bands = options.bands;
  if (plan.bands.empty())
    for (uint32_t b = 0; b < plan.info.spec.bands; ++b) plan.bands.push_back(b);

  if (options.region) {
    plan.region = *options.region;
    if (plan.region.empty())
      return Status(Code::kInvalidArgument,
                    image + ": region " + to_string(plan.region) +
                        " is empty (width and height must be at least 1)");
    if (!plan.region.is_valid())
      return Status(Code::kInvalidArgument,
                    image + ": region " + to_string(plan.region) + " overflows coordinates");
  } else {
    auto bounds = view.bounds(plan.image, options.frame, Precision::kExact);
    if (!bounds) return bounds.status();
    if (!*bounds)
      return Status(Code::kNotFound,
                    image + " frame " + std::to_string(options.frame) + " holds no data");
    plan.region = **bounds;
  }
  const uint64_t bytes = mul_saturated(mul_saturated(plan.region.pixel_count(), plan.bands.size()),
                                       plan.sample_bytes);
  if (bytes > uint64_t(std::numeric_limits<off_t>::max()))
    return Status(Code::kInvalidArgument,
                  image + ": region " + to_string(plan.region) + " is too large to export");
  return plan;
}

// Writes the samples of the plan to `file`, block by block from one snapshot.
Status write_samples(const View& view, const ExportPlan& plan, const ExportOptions& options,
                     const File& file, const std::string& path) {
  const Region& r = plan.region;
  const uint64_t pixel_bytes = plan.bands.size() * plan.sample_bytes;
  const uint64_t total = r.pixel_count() * pixel_bytes;
  if (::ftruncate(file.fd(), off_t(total)) != 0)
    return os_error(errno == ENOSPC || errno == EFBIG ? Code::kNoSpace : Code::kIoError, path,
                    "cannot size to " + std::to_string(total) + " bytes", errno);
  std::unique_ptr<uint8_t[]> buffer;
  uint64_t buffer_size = 0, done = 0;
  const Selection sel{options.frame, 0, plan.bands};
  return for_each_block(r, plan.info.spec.tile_size, pixel_bytes, [&](const Region& block) {
    const uint64_t size = block.pixel_count() * pixel_bytes;
    if (size > buffer_size) {
      buffer = std::make_unique_for_overwrite<uint8_t[]>(size);
      buffer_size = size;
    }
    TESSERA_RETURN_IF_ERROR(
        view.read(plan.image, block, sel, buffer.get(), size, options.interleave));
    const Region local{block.x - r.x, block.y - r.y, block.width, block.height};
    for (const Segment& run : block_segments(options.interleave, r.width, r.height,
                                             plan.bands.size(), plan.sample_bytes, local))
      TESSERA_RETURN_IF_ERROR(
          write_exactly(file, buffer.get() + run.buffer_offset, run.size, run.file_offset, path));
    done += size;
    if (options.progress) options.progress(done, total);
    return Status::ok();
  });
}

}  // namespace

Status export_envi(const Container& container, const std::string& out,
                   const ExportOptions& options) {
  auto snapshot = container.snapshot();
  if (!snapshot) return snapshot.status();
  auto plan = plan_export(*snapshot, options);
  if (!plan) return plan.status();

  // Both files are written beside their final names and renamed into place at the end, the
  // header last, so a failed export leaves neither partial files nor a half-replaced OUT.
  const std::string header_path = out + ".hdr";
  const std::string data_part = out + ".part", header_part = header_path + ".part";
  Status status = [&]() -> Status {
    auto file = create_for_writing(data_part);
    if (!file) return file.status();
    TESSERA_RETURN_IF_ERROR(write_samples(*snapshot, *plan, options, *file, data_part));
    TESSERA_RETURN_IF_ERROR(sync_and_close(*file, data_part));
    EnviHeader header;
    header.samples = plan->region.width;
    header.lines = plan->region.height;
    header.bands = uint32_t(plan->bands.size());
    header.type = plan->info.spec.type;
    header.interleave = options.interleave;
    TESSERA_RETURN_IF_ERROR(write_header_file(header_part, header));
    TESSERA_RETURN_IF_ERROR(rename_file(data_part, out));
    return rename_file(header_part, header_path);
  }();
  if (!status) {
    ::unlink(data_part.c_str());
    ::unlink(header_part.c_str());
  }
  return status;
}

}  // namespace tessera
