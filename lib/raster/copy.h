// Moving samples between a tile buffer and a caller's buffer: any band subset and order,
// any strides. The one kernel behind read, write, fill and the iterators.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace tessera::detail {

// Where a band's samples are: sample (x, y) of band i is at band[i] + y*line + x*pixel.
struct BandPlanes {
  std::span<const uint8_t* const> band;
  int64_t pixel = 0, line = 0;
};
struct MutableBandPlanes {
  std::span<uint8_t* const> band;
  int64_t pixel = 0, line = 0;
};

// Copies a width x height block of band.size() bands (the same count on both sides) of
// sample_size-byte samples. A source with pixel and line strides 0 broadcasts one pixel.
void copy_block(const BandPlanes& src, const MutableBandPlanes& dst, int64_t width, int64_t height,
                size_t sample_size);

}  // namespace tessera::detail
