// Byte order helpers and aligned scratch buffers. On-disk integers are written and read
// through these only: never by casting a pointer into the map (LMDB values are only
// 2-byte aligned).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

namespace tessera::detail {

inline void put_be32(uint8_t* p, uint32_t v) {
  for (int i = 3; i >= 0; --i, v >>= 8) p[i] = uint8_t(v);
}
inline void put_be64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = uint8_t(v);
}
inline uint32_t get_be32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | p[i];
  return v;
}
inline uint64_t get_be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}
inline void put_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i, v >>= 8) p[i] = uint8_t(v);
}
inline uint32_t get_le32(const uint8_t* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline void put_le64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i, v >>= 8) p[i] = uint8_t(v);
}
inline uint64_t get_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// A sample of type T at `p` (any alignment), and one stored there: samples are little-endian,
// as is every host Tessera builds for.
template <typename T>
T load_sample(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename T>
void store_sample(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

// A heap buffer aligned for any sample type and SIMD loads (64 bytes), grown on demand.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(size_t size) { resize(size); }
  // Contents are not preserved when the buffer grows.
  void resize(size_t size) {
    if (size > capacity_ || !data_) {  // never null, even for size 0
      const size_t bytes = size ? size : 1;
      data_.reset(static_cast<uint8_t*>(::operator new[](bytes, std::align_val_t(64))));
      capacity_ = bytes;
    }
    size_ = size;
  }
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { ::operator delete[](p, std::align_val_t(64)); }
  };
  std::unique_ptr<uint8_t[], Free> data_;
  size_t size_ = 0, capacity_ = 0;
};

}  // namespace tessera::detail
