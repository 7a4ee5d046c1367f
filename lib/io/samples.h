// Sample-level work converters share: byte order, and moving a block between two layouts.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tessera/types.h"

namespace tessera::io_detail {

// Reverses the bytes of each `sample_bytes`-byte sample of `data` (1-byte samples: nothing).
void swap_byte_order(uint8_t* data, uint64_t size, size_t sample_bytes);

// Copies a width x height x bands block of `sample_bytes`-byte samples from `src` laid out
// with `src_strides` to `dst` laid out with `dst_strides`.
void copy_samples(const uint8_t* src, const Strides& src_strides, uint8_t* dst,
                  const Strides& dst_strides, int64_t width, int64_t height, size_t bands,
                  size_t sample_bytes);

}  // namespace tessera::io_detail
