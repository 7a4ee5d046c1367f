// How converters cut a raster into blocks, and where a block's samples lie in a raw file.
//
// Both directions walk a raster in strips one tile row high, each cut into column blocks of at
// most kBlockBudget bytes, so memory stays bounded whatever the raster's size; blocks are
// aligned to the image's tile grid so that every stored tile is written whole once instead of
// read-modified-written by two neighbouring blocks.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "tessera/io.h"
#include "tessera/status.h"
#include "tessera/types.h"

namespace tessera::io_detail {

// Largest buffer one block may take (a block is always at least one tile wide).
inline constexpr uint64_t kBlockBudget = uint64_t(64) << 20;

inline uint64_t mul_saturated(uint64_t a, uint64_t b) {
  uint64_t product;
  return __builtin_mul_overflow(a, b, &product) ? std::numeric_limits<uint64_t>::max() : product;
}

// The start of v's tile, and the end of it (saturated at INT64_MAX).
inline int64_t tile_start(int64_t v, int64_t tile) { return v - (((v % tile) + tile) % tile); }
inline int64_t tile_end(int64_t v, int64_t tile) {
  const int64_t start = tile_start(v, tile);
  return start > std::numeric_limits<int64_t>::max() - tile ? std::numeric_limits<int64_t>::max()
                                                              : start + tile;
}

// Calls fn(block) for the blocks of `area` (see above), in order: strips top to bottom, blocks
// left to right. Stops at the first error fn returns.
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
                                    uint64_t bands, uint64_t sample_bytes, const Region& block);

// Why a source cannot serve read(block, dst, dst_size, strides), or OK: the block must lie in
// the raster and the buffer must hold it. Messages begin with the source's name.
Status check_read(const std::string& name, const RasterShape& shape, const Region& block,
                  size_t dst_size, const Strides& strides);

// A block's buffer, grown as needed and kept for the next block. Blocks are megabytes, and
// each first touch of a 4 KiB page is a fault (microseconds on a virtual machine): the memory
// is mapped on its own and asked for in transparent huge pages (2 MiB each) where the kernel
// has them.
class BlockBuffer {
 public:
  BlockBuffer() = default;
  BlockBuffer(const BlockBuffer&) = delete;
  BlockBuffer& operator=(const BlockBuffer&) = delete;
  ~BlockBuffer();
  // Room for `size` bytes (contents not kept when it grows); kIoError naming `owner` when the
  // system maps no more memory.
  Status reserve(size_t size, const std::string& owner);
  uint8_t* data() const { return data_; }

 private:
  uint8_t* data_ = nullptr;
  size_t capacity_ = 0;
};

}  // namespace tessera::io_detail
