// Shared helpers of the fuzz targets (after zstd's tests/fuzz/fuzz_helpers.h and
// fuzz_data_producer.h): FUZZ_CHECK, which aborts with a message when a property does not
// hold so that libFuzzer records the input as a crash; FuzzInput, which turns the first bytes
// of an input into parameters; and exact-size buffers, so that AddressSanitizer catches a
// read or write even one byte past what a call was given.
//
// Nothing here may hide a fault of the code under test: no clamping of what the library
// returns, no catching of signals.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

namespace tessera::fuzz {

[[noreturn]] inline void check_failed(const char* file, int line, const char* condition,
                                      const std::string& detail) {
  std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed%s%s\n", file, line, condition,
               detail.empty() ? "" : ": ", detail.c_str());
  std::fflush(stderr);
  std::abort();
}

// FUZZ_CHECK(cond) or FUZZ_CHECK(cond, detail): detail is anything that converts to
// std::string, evaluated only on failure.
#define FUZZ_CHECK(condition, ...)                                                            \
  do {                                                                                        \
    if (!(condition))                                                                         \
      ::tessera::fuzz::check_failed(__FILE__, __LINE__, #condition, std::string{__VA_ARGS__}); \
  } while (0)

// Reads parameters from the front of a fuzz input; what is left over is the payload. Reading
// past the end yields zeros, so every input is usable and a short input means "defaults".
class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint32_t u32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= uint32_t(u8()) << (8 * i);
    return v;
  }
  uint64_t u64() { return uint64_t(u32()) | (uint64_t(u32()) << 32); }
  int64_t i64() { return int64_t(u64()); }
  bool flag() { return u8() & 1; }

  const uint8_t* rest() const { return data_ + pos_; }
  size_t rest_size() const { return size_ - pos_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// A heap buffer of exactly `size` bytes (a real, distinct allocation even for 0 bytes, so
// callees never see a null pointer), uninitialized-but-defined: filled with a marker byte.
inline std::unique_ptr<uint8_t[]> exact_buffer(size_t size, uint8_t fill = 0xA5) {
  std::unique_ptr<uint8_t[]> buffer(new uint8_t[size]);
  if (size) std::memset(buffer.get(), fill, size);
  return buffer;
}

inline std::unique_ptr<uint8_t[]> exact_copy(const uint8_t* data, size_t size) {
  auto buffer = exact_buffer(size);
  if (size) std::memcpy(buffer.get(), data, size);
  return buffer;
}

// Lowercase hex of at most `limit` bytes, for failure messages.
inline std::string hex(const uint8_t* data, size_t size, size_t limit = 64) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < size && i < limit; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 15];
  }
  if (size > limit) out += "...";
  return out;
}

}  // namespace tessera::fuzz
