// test_util.h — what the tests share: a temporary directory per test, deterministic random
// numbers, a plain in-memory reference image, and raw LMDB access for damaging files on purpose.
//
// The reference image is deliberately naive (a sparse map of small blocks, one sample at a
// time, simple loops) and shares no code with the library: it is what the library's answers
// are compared against, so it must be obviously right rather than fast.
//
// Header-only: tests/CMakeLists.txt compiles every *_test.cc into one binary and nothing else.
#pragma once

#include <gtest/gtest.h>
#include <lmdb.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tessera/container.h"
#include "tessera/status.h"
#include "tessera/types.h"

namespace tessera::test {

// ---------------------------------------------------------------------------------------------
// Status helpers

inline const Status& status_of(const Status& status) { return status; }
template <typename T>
const Status& status_of(const Result<T>& result) {
  return result.status();
}

#define TESSERA_TEST_CONCAT_INNER(a, b) a##b
#define TESSERA_TEST_CONCAT(a, b) TESSERA_TEST_CONCAT_INNER(a, b)

// ASSERT_OK(expr): expr is a Status or Result<T> that must be OK; prints the status if not.
#define ASSERT_OK(expr)                                                                  \
  do {                                                                                   \
    const auto& tessera_test_r_ = (expr);                                                \
    ASSERT_TRUE(tessera_test_r_.is_ok())                                                 \
        << #expr << " -> " << ::tessera::test::status_of(tessera_test_r_).to_string();   \
  } while (0)
#define EXPECT_OK(expr)                                                                  \
  do {                                                                                   \
    const auto& tessera_test_r_ = (expr);                                                \
    EXPECT_TRUE(tessera_test_r_.is_ok())                                                 \
        << #expr << " -> " << ::tessera::test::status_of(tessera_test_r_).to_string();   \
  } while (0)

// ASSERT_OK_AND_ASSIGN(auto x, expr): expr is a Result<T>; moves its value into `decl`.
#define ASSERT_OK_AND_ASSIGN(decl, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL(TESSERA_TEST_CONCAT(tessera_test_result_, __LINE__), decl, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL(tmp, decl, expr)                         \
  auto tmp = (expr);                                                       \
  ASSERT_TRUE(tmp.is_ok()) << #expr << " -> " << tmp.status().to_string(); \
  decl = std::move(tmp).value()

// EXPECT_CODE(expr, code): expr (Status or Result) fails with exactly `code`.
#define EXPECT_CODE(expr, code_)                                                            \
  do {                                                                                      \
    const auto& tessera_test_r_ = (expr);                                                   \
    const ::tessera::Status& tessera_test_s_ = ::tessera::test::status_of(tessera_test_r_); \
    EXPECT_EQ(tessera_test_s_.code(), code_)                                                \
        << #expr << " -> " << tessera_test_s_.to_string() << " (expected "                 \
        << ::tessera::code_name(code_) << ")";                                              \
  } while (0)

// ---------------------------------------------------------------------------------------------
// Temporary directories

// A fresh directory, removed with everything in it on destruction (kept when the environment
// variable TESSERA_KEEP_TEST_DIRS is set, for post-mortems).
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "tessera-test-XXXXXX").string();
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) {
      ADD_FAILURE() << "mkdtemp(" << pattern << ") failed";
      return;
    }
    dir_ = buf.data();
  }
  ~TempDir() {
    if (dir_.empty() || std::getenv("TESSERA_KEEP_TEST_DIRS") != nullptr) return;
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& dir() const { return dir_; }
  // A path inside the directory (the file is not created).
  std::string path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  std::filesystem::path dir_;
};

// The whole content of a file ("" when it cannot be read).
inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Creates or replaces a file holding `bytes`.
inline void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

class TempDirTest : public ::testing::Test {
 protected:
  std::string path(const std::string& name) const { return tmp_.path(name); }
  TempDir tmp_;
};

template <typename Param>
class TempDirTestWithParam : public ::testing::TestWithParam<Param> {
 protected:
  std::string path(const std::string& name) const { return tmp_.path(name); }
  TempDir tmp_;
};

// ---------------------------------------------------------------------------------------------
// Deterministic random numbers (fixed seeds: every failure reproduces)

class Rng {
 public:
  explicit Rng(uint64_t seed) : gen_(seed) {}
  // Uniform in [lo, hi] (inclusive).
  int64_t uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(gen_);
  }
  size_t index(size_t n) { return size_t(uniform(0, int64_t(n) - 1)); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0.0, 1.0)(gen_) < p; }
  uint64_t bits() { return gen_(); }
  void fill(uint8_t* data, size_t size) {
    size_t i = 0;
    for (; i + 8 <= size; i += 8) {
      uint64_t v = gen_();
      std::memcpy(data + i, &v, 8);
    }
    if (i < size) {
      uint64_t v = gen_();
      std::memcpy(data + i, &v, size - i);
    }
  }
  std::vector<uint8_t> bytes(size_t size) {
    std::vector<uint8_t> out(size);
    fill(out.data(), size);
    return out;
  }
  // A random subset of 0..bands-1 of random size (at least 1) in random order.
  std::vector<uint32_t> band_subset(uint32_t bands) {
    std::vector<uint32_t> all(bands);
    std::iota(all.begin(), all.end(), 0u);
    std::shuffle(all.begin(), all.end(), gen_);
    all.resize(size_t(uniform(1, bands)));
    return all;
  }
  std::mt19937_64& engine() { return gen_; }

 private:
  std::mt19937_64 gen_;
};

// ---------------------------------------------------------------------------------------------
// Buffer layouts, computed here independently of the library

inline size_t dtype_bytes(DataType type) {
  switch (type) {
    case DataType::kU8:
    case DataType::kI8:
      return 1;
    case DataType::kU16:
    case DataType::kI16:
      return 2;
    case DataType::kU32:
    case DataType::kI32:
    case DataType::kF32:
      return 4;
    case DataType::kU64:
    case DataType::kI64:
    case DataType::kF64:
      return 8;
  }
  return 0;
}

inline const char* dtype_label(DataType type) {
  switch (type) {
    case DataType::kU8: return "u8";
    case DataType::kU16: return "u16";
    case DataType::kU32: return "u32";
    case DataType::kU64: return "u64";
    case DataType::kI8: return "i8";
    case DataType::kI16: return "i16";
    case DataType::kI32: return "i32";
    case DataType::kI64: return "i64";
    case DataType::kF32: return "f32";
    case DataType::kF64: return "f64";
  }
  return "?";
}

inline const std::vector<DataType>& all_data_types() {
  static const std::vector<DataType> types = {
      DataType::kU8,  DataType::kU16, DataType::kU32, DataType::kU64, DataType::kI8,
      DataType::kI16, DataType::kI32, DataType::kI64, DataType::kF32, DataType::kF64};
  return types;
}

// Strides of a densely packed width x height x bands buffer.
inline Strides packed_strides(Interleave interleave, int64_t width, int64_t height, size_t bands,
                              size_t sample_bytes) {
  const int64_t s = int64_t(sample_bytes), nb = int64_t(bands);
  Strides out;
  switch (interleave) {
    case Interleave::kBIP:  // [y][x][band]
      out.band = s;
      out.pixel = nb * s;
      out.line = width * nb * s;
      break;
    case Interleave::kBIL:  // [y][band][x]
      out.pixel = s;
      out.band = width * s;
      out.line = nb * width * s;
      break;
    case Interleave::kBSQ:  // [band][y][x]
      out.pixel = s;
      out.line = width * s;
      out.band = height * width * s;
      break;
  }
  return out;
}

// Bytes a buffer needs for these strides: the offset of the last sample plus its size.
inline size_t layout_bytes(const Strides& strides, int64_t width, int64_t height, size_t bands,
                           size_t sample_bytes) {
  return size_t((width - 1) * strides.pixel + (height - 1) * strides.line +
                (int64_t(bands) - 1) * strides.band) +
         sample_bytes;
}

// Offset of sample (x, y, band index b) in a buffer with these strides.
inline size_t sample_offset(const Strides& s, int64_t x, int64_t y, size_t b) {
  return size_t(x * s.pixel + y * s.line + int64_t(b) * s.band);
}

// The bytes of `value` converted to `type` (little-endian host assumed, as x86-64 and arm64
// Linux are; the library stores samples little-endian).
inline std::vector<uint8_t> sample_bytes_of(DataType type, double value) {
  std::vector<uint8_t> out(dtype_bytes(type));
  auto put = [&](auto v) { std::memcpy(out.data(), &v, sizeof(v)); };
  switch (type) {
    case DataType::kU8: put(uint8_t(value)); break;
    case DataType::kU16: put(uint16_t(value)); break;
    case DataType::kU32: put(uint32_t(value)); break;
    case DataType::kU64: put(uint64_t(value)); break;
    case DataType::kI8: put(int8_t(value)); break;
    case DataType::kI16: put(int16_t(value)); break;
    case DataType::kI32: put(int32_t(value)); break;
    case DataType::kI64: put(int64_t(value)); break;
    case DataType::kF32: put(float(value)); break;
    case DataType::kF64: put(double(value)); break;
  }
  return out;
}

inline std::string hex(const uint8_t* data, size_t size) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < size; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 15];
  }
  return out;
}

inline std::string bands_label(const std::vector<uint32_t>& bands) {
  std::string out = "{";
  for (size_t i = 0; i < bands.size(); ++i) out += (i ? "," : "") + std::to_string(bands[i]);
  return out + "}";
}

inline std::string region_label(const Region& r) {
  return "(" + std::to_string(r.x) + "," + std::to_string(r.y) + " " + std::to_string(r.width) +
         "x" + std::to_string(r.height) + ")";
}

inline std::string strides_label(const Strides& s) {
  return "strides{pixel=" + std::to_string(s.pixel) + ",line=" + std::to_string(s.line) +
         ",band=" + std::to_string(s.band) + "}";
}

// ---------------------------------------------------------------------------------------------
// The reference image

// A sparse, unbounded image: samples are raw bytes of the image's data type; every pixel never
// written reads as the fill value of its band. Storage: a hash map of 32x32 blocks per band,
// each created filled with the band's fill bytes on first write.
class RefImage {
 public:
  // `fill` as in ImageSpec: one value per band or one value for all.
  RefImage(DataType type, uint32_t bands, const std::vector<double>& fill)
      : type_(type), bands_(bands), sample_bytes_(dtype_bytes(type)) {
    for (uint32_t b = 0; b < bands; ++b) {
      double v = fill.empty() ? 0.0 : fill.size() == 1 ? fill[0] : fill.at(b);
      fill_.push_back(sample_bytes_of(type, v));
    }
  }
  explicit RefImage(const ImageSpec& spec) : RefImage(spec.type, spec.bands, spec.fill) {}

  DataType type() const { return type_; }
  uint32_t bands() const { return bands_; }
  size_t sample_bytes() const { return sample_bytes_; }
  const std::vector<uint8_t>& fill_bytes(uint32_t band) const { return fill_[band]; }

  // The sample of (band, x, y): sample_bytes() bytes.
  const uint8_t* sample(uint32_t band, int64_t x, int64_t y) const {
    auto it = blocks_.find(Key{band, x >> kBlockShift, y >> kBlockShift});
    if (it == blocks_.end()) return fill_[band].data();
    return it->second.data() + local_offset(x, y);
  }
  void set_sample(uint32_t band, int64_t x, int64_t y, const uint8_t* bytes) {
    Key key{band, x >> kBlockShift, y >> kBlockShift};
    auto it = blocks_.find(key);
    if (it == blocks_.end()) {
      std::vector<uint8_t> block(size_t(kBlock * kBlock) * sample_bytes_);
      for (size_t i = 0; i < size_t(kBlock * kBlock); ++i)
        std::memcpy(block.data() + i * sample_bytes_, fill_[band].data(), sample_bytes_);
      it = blocks_.emplace(key, std::move(block)).first;
    }
    std::memcpy(it->second.data() + local_offset(x, y), bytes, sample_bytes_);
  }

  // What View::write does: sample (x, y, bands[b]) comes from src at sample_offset(...).
  // An empty `bands` means every band in order.
  void write(const Region& region, const std::vector<uint32_t>& bands, const void* src,
             const Strides& strides) {
    const auto* bytes = static_cast<const uint8_t*>(src);
    const std::vector<uint32_t> list = resolve(bands);
    for (size_t b = 0; b < list.size(); ++b)
      for (int64_t y = 0; y < region.height; ++y)
        for (int64_t x = 0; x < region.width; ++x)
          set_sample(list[b], region.x + x, region.y + y,
                     bytes + sample_offset(strides, x, y, b));
  }
  // Every sample of `region` of `bands` set to values[b] (sample_bytes() bytes each).
  void write_uniform(const Region& region, const std::vector<uint32_t>& bands,
                     const std::vector<std::vector<uint8_t>>& values) {
    const std::vector<uint32_t> list = resolve(bands);
    for (size_t b = 0; b < list.size(); ++b)
      for (int64_t y = 0; y < region.height; ++y)
        for (int64_t x = 0; x < region.width; ++x)
          set_sample(list[b], region.x + x, region.y + y, values[b].data());
  }

  // The buffer View::read should produce: `size` bytes initialised to `background`, with
  // every sample of the region written at its strided offset. Bytes between samples (padding)
  // keep `background`, so a read into a buffer prefilled with it must match exactly.
  std::vector<uint8_t> expected(const Region& region, const std::vector<uint32_t>& bands,
                                const Strides& strides, size_t size,
                                uint8_t background = 0xA5) const {
    std::vector<uint8_t> out(size, background);
    const std::vector<uint32_t> list = resolve(bands);
    for (size_t b = 0; b < list.size(); ++b)
      for (int64_t y = 0; y < region.height; ++y)
        for (int64_t x = 0; x < region.width; ++x)
          std::memcpy(out.data() + sample_offset(strides, x, y, b),
                      sample(list[b], region.x + x, region.y + y), sample_bytes_);
    return out;
  }

  std::vector<uint32_t> resolve(const std::vector<uint32_t>& bands) const {
    if (!bands.empty()) return bands;
    std::vector<uint32_t> all(bands_);
    std::iota(all.begin(), all.end(), 0u);
    return all;
  }

 private:
  static constexpr int kBlockShift = 5;
  static constexpr int64_t kBlock = int64_t(1) << kBlockShift;
  struct Key {
    uint32_t band;
    int64_t bx, by;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      uint64_t h = k.band * 0x9E3779B97F4A7C15ull;
      h ^= uint64_t(k.bx) + 0x632BE59BD9B4E019ull + (h << 6) + (h >> 2);
      h ^= uint64_t(k.by) * 0xC2B2AE3D27D4EB4Full + (h << 6) + (h >> 2);
      return size_t(h);
    }
  };
  size_t local_offset(int64_t x, int64_t y) const {
    // C++20: >> of a negative value is an arithmetic shift, & gives the floor remainder.
    return size_t((y & (kBlock - 1)) * kBlock + (x & (kBlock - 1))) * sample_bytes_;
  }

  DataType type_;
  uint32_t bands_;
  size_t sample_bytes_;
  std::vector<std::vector<uint8_t>> fill_;
  std::unordered_map<Key, std::vector<uint8_t>, KeyHash> blocks_;
};

// Compares a read result with the expected buffer; returns "" when equal, else a description
// of the first differing sample (band, x, y, expected and actual bytes) or padding byte.
inline std::string describe_mismatch(const std::vector<uint8_t>& expected, const uint8_t* actual,
                                     size_t size, const Region& region,
                                     const std::vector<uint32_t>& bands, uint32_t image_bands,
                                     const Strides& strides, size_t sample_bytes) {
  if (expected.size() == size && std::memcmp(expected.data(), actual, size) == 0) return "";
  std::vector<uint32_t> list = bands;
  if (list.empty()) {
    list.resize(image_bands);
    std::iota(list.begin(), list.end(), 0u);
  }
  size_t differing = 0;
  std::string first;
  std::vector<bool> is_sample(size, false);
  for (size_t b = 0; b < list.size(); ++b)
    for (int64_t y = 0; y < region.height; ++y)
      for (int64_t x = 0; x < region.width; ++x) {
        size_t off = sample_offset(strides, x, y, b);
        for (size_t i = 0; i < sample_bytes; ++i) is_sample[off + i] = true;
        if (std::memcmp(expected.data() + off, actual + off, sample_bytes) != 0) {
          if (differing++ == 0) {
            std::ostringstream os;
            os << "first differing sample: band " << list[b] << " pixel (" << region.x + x
               << "," << region.y + y << ") [offset " << off << "]: expected "
               << hex(expected.data() + off, sample_bytes) << " got "
               << hex(actual + off, sample_bytes);
            first = os.str();
          }
        }
      }
  std::ostringstream os;
  os << differing << " of " << list.size() * region.pixel_count() << " samples differ";
  if (!first.empty()) os << "; " << first;
  for (size_t i = 0; i < size; ++i)
    if (!is_sample[i] && expected[i] != actual[i]) {
      os << "; padding byte " << i << " changed from " << hex(&expected[i], 1) << " to "
         << hex(actual + i, 1);
      break;
    }
  return os.str();
}

// ---------------------------------------------------------------------------------------------
// Raw LMDB access to a container file (closed by Tessera first)

class LmdbFile {
 public:
  LmdbFile(const std::string& file, bool writable) {
    int rc = mdb_env_create(&env_);
    if (rc == 0) rc = mdb_env_set_maxdbs(env_, 16);
    if (rc == 0)
      rc = mdb_env_open(env_, file.c_str(), MDB_NOSUBDIR | (writable ? 0u : MDB_RDONLY), 0644);
    if (rc != 0) error_ = "mdb_env_open(" + file + "): " + mdb_strerror(rc);
  }
  ~LmdbFile() {
    if (env_) mdb_env_close(env_);
  }
  LmdbFile(const LmdbFile&) = delete;
  LmdbFile& operator=(const LmdbFile&) = delete;
  const std::string& error() const { return error_; }
  MDB_env* env() const { return error_.empty() ? env_ : nullptr; }

 private:
  MDB_env* env_ = nullptr;
  std::string error_;
};

// Every (key, value) of the named database.
inline bool lmdb_entries(const std::string& file, const char* db,
                         std::vector<std::pair<std::string, std::string>>* out,
                         std::string* error = nullptr) {
  out->clear();
  LmdbFile lmdb(file, false);
  std::string err = lmdb.error();
  if (err.empty()) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(lmdb.env(), nullptr, MDB_RDONLY, &txn);
    MDB_dbi dbi = 0;
    if (rc == 0) rc = mdb_dbi_open(txn, db, 0, &dbi);
    MDB_cursor* cursor = nullptr;
    if (rc == 0) rc = mdb_cursor_open(txn, dbi, &cursor);
    if (rc == 0) {
      MDB_val k, v;
      int step = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
      while (step == 0) {
        out->emplace_back(std::string(static_cast<const char*>(k.mv_data), k.mv_size),
                          std::string(static_cast<const char*>(v.mv_data), v.mv_size));
        step = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
      }
      if (step != MDB_NOTFOUND) rc = step;
      mdb_cursor_close(cursor);
    }
    if (txn) mdb_txn_abort(txn);
    if (rc != 0) err = std::string("reading db '") + db + "' of " + file + ": " + mdb_strerror(rc);
  }
  if (error) *error = err;
  return err.empty();
}

// Number of entries in the named database of the file, or -1 and `error` set.
inline int64_t lmdb_count(const std::string& file, const char* db, std::string* error = nullptr) {
  std::vector<std::pair<std::string, std::string>> entries;
  if (!lmdb_entries(file, db, &entries, error)) return -1;
  return int64_t(entries.size());
}

// Finds the first entry of `db` for which `pick` returns true (it may edit the value in
// place), then replaces its value (remove = false) or deletes it (remove = true) and commits.
// Returns false with `error` set when nothing matched or LMDB failed.
inline bool lmdb_change_first(
    const std::string& file, const char* db, bool remove,
    const std::function<bool(const std::string& key, std::string& value)>& pick,
    std::string* error) {
  LmdbFile lmdb(file, true);
  std::string err = lmdb.error();
  if (err.empty()) {
    MDB_txn* txn = nullptr;
    int rc = mdb_txn_begin(lmdb.env(), nullptr, 0, &txn);
    MDB_dbi dbi = 0;
    if (rc == 0) rc = mdb_dbi_open(txn, db, 0, &dbi);
    std::string key, value;
    bool found = false;
    MDB_cursor* cursor = nullptr;
    if (rc == 0) rc = mdb_cursor_open(txn, dbi, &cursor);
    if (rc == 0) {
      MDB_val k, v;
      int step = mdb_cursor_get(cursor, &k, &v, MDB_FIRST);
      while (step == 0 && !found) {
        key.assign(static_cast<const char*>(k.mv_data), k.mv_size);
        value.assign(static_cast<const char*>(v.mv_data), v.mv_size);
        found = pick(key, value);
        if (!found) step = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
      }
      if (step != 0 && step != MDB_NOTFOUND) rc = step;
      mdb_cursor_close(cursor);
    }
    if (rc == 0 && found) {
      MDB_val k{key.size(), key.data()}, v{value.size(), value.data()};
      rc = remove ? mdb_del(txn, dbi, &k, nullptr) : mdb_put(txn, dbi, &k, &v, 0);
      if (rc == 0) {
        rc = mdb_txn_commit(txn);
        txn = nullptr;
      }
    }
    if (txn) mdb_txn_abort(txn);
    if (rc != 0)
      err = std::string(remove ? "deleting from" : "editing") + " db '" + db + "' of " + file +
            ": " + mdb_strerror(rc);
    else if (!found)
      err = std::string("no entry of db '") + db + "' matched";
  }
  if (error) *error = err;
  return err.empty();
}

// Replaces the value of the first entry of `db` for which `edit` returns true (it edits the
// value in place).
inline bool lmdb_edit_value(
    const std::string& file, const char* db,
    const std::function<bool(const std::string& key, std::string& value)>& edit,
    std::string* error = nullptr) {
  return lmdb_change_first(file, db, false, edit, error);
}

// Deletes the first entry of `db` for which `pick` returns true.
inline bool lmdb_delete(const std::string& file, const char* db,
                        const std::function<bool(const std::string& key)>& pick,
                        std::string* error = nullptr) {
  return lmdb_change_first(
      file, db, true, [&](const std::string& key, std::string&) { return pick(key); }, error);
}

// Puts one entry into a named database of a closed file, written past the library.
inline bool lmdb_put(const std::string& file, const char* db, const std::string& key,
              const std::string& value, unsigned db_flags = 0) {
  LmdbFile lmdb(file, true);
  if (!lmdb.env()) return false;
  MDB_txn* txn = nullptr;
  MDB_dbi dbi = 0;
  int rc = mdb_txn_begin(lmdb.env(), nullptr, 0, &txn);
  if (rc == 0) rc = mdb_dbi_open(txn, db, db_flags, &dbi);
  MDB_val k{key.size(), const_cast<char*>(key.data())}, v{value.size(), const_cast<char*>(value.data())};
  if (rc == 0) rc = mdb_put(txn, dbi, &k, &v, 0);
  if (rc == 0) return mdb_txn_commit(txn) == 0;
  if (txn) mdb_txn_abort(txn);
  return false;
}

}  // namespace tessera::test

// ---------------------------------------------------------------------------------------------
// Shared by two or more test files

#include "proc/file_soundness.h"

namespace tessera::test {

// Name of an interleave preset for trace messages (region_io_test, types_test).
inline const char* interleave_label(Interleave il) {
  return il == Interleave::kBIP ? "BIP" : il == Interleave::kBIL ? "BIL" : "BSQ";
}

// Coordinates this far from the origin still leave room for tiles and macro blocks before
// int64 overflows (region_io_test, types_test).
inline constexpr int64_t kHuge = int64_t(1) << 62;

// `tessera::verify` (with --deep) finds nothing wrong with the file.
inline void expect_verifies(const std::string& file) { EXPECT_EQ(check_file_sound(file, /*deep=*/true), ""); }

// The small image of the whole-file tests (frames_test, compact_test, format_version_test):
// u8, 2 bands with fill 0 and 9, tiles of 16 x 16 in macro blocks of 2 x 2 tiles, LZ4.
namespace seq_file {
inline constexpr int64_t kTile = 16, kMacro = 2;
inline constexpr uint32_t kBands = 2;
inline const std::vector<uint8_t> kFill = {0, 9};

inline ImageSpec canvas_spec(StorageLayout storage) {
  ImageSpec spec;
  spec.bands = kBands;
  spec.tile_size = kTile;
  spec.macro_tiles = kMacro;
  spec.fill = {double(kFill[0]), double(kFill[1])};
  spec.storage = storage;
  return spec;
}
}  // namespace seq_file

// path("f.tsr"), created in SetUp, holding that image, chunky, as "seq".
class SeqFileTest : public TempDirTest {
 protected:
  void SetUp() override {
    using seq_file::canvas_spec;
    auto c = Container::create(path("f.tsr"));
    ASSERT_OK(c);
    container_.emplace(std::move(*c));
    ASSERT_OK(container_->write([&](WriteTxn& t) { return t.create_image("seq", canvas_spec(StorageLayout::kChunky)); }));
  }
  // Writes noise over whole tiles [tx0, tx0 + n) of row 0 in `frame`.
  Status write_tiles(uint32_t frame, int64_t tx0, int64_t n, Rng& rng) {
    using seq_file::kBands, seq_file::kTile;
    std::vector<uint8_t> data(size_t(n * kTile * kTile) * kBands);
    rng.fill(data.data(), data.size());
    return container_->write([&](WriteTxn& t) {
      return t.write("seq", Region{tx0 * kTile, 0, n * kTile, kTile}, Selection{frame, 0, {}}, data.data(), data.size());
    });
  }
  std::optional<Container> container_;
};

}  // namespace tessera::test
