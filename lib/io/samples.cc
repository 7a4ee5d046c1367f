#include "io/samples.h"

#include <cstring>

namespace tessera::io_detail {
namespace {

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

}  // namespace

void swap_byte_order(uint8_t* data, uint64_t size, size_t sample_bytes) {
  switch (sample_bytes) {
    case 2: swap_samples<uint16_t, bswap16>(data, size / 2); break;
    case 4: swap_samples<uint32_t, bswap32>(data, size / 4); break;
    case 8: swap_samples<uint64_t, bswap64>(data, size / 8); break;
    default: break;
  }
}

void copy_samples(const uint8_t* src, const Strides& src_strides, uint8_t* dst,
                  const Strides& dst_strides, int64_t width, int64_t height, size_t bands,
                  size_t sample_bytes) {
  // Sample by sample: this serves layouts a source does not hold natively, where no run of
  // bytes is shared anyway; the common case (the source's own layout) never comes here.
  for (size_t b = 0; b < bands; ++b)
    for (int64_t y = 0; y < height; ++y) {
      const uint8_t* s = src + int64_t(b) * src_strides.band + y * src_strides.line;
      uint8_t* d = dst + int64_t(b) * dst_strides.band + y * dst_strides.line;
      for (int64_t x = 0; x < width; ++x)
        std::memcpy(d + x * dst_strides.pixel, s + x * src_strides.pixel, sample_bytes);
    }
}

}  // namespace tessera::io_detail
