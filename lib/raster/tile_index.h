// The tile index of one image: which tile covers which pixels, how samples sit inside a tile,
// and finding the version of a tile a frame shows (one cursor seek, DESIGN.md section 3).
#pragma once

#include <bit>
#include <cstdint>
#include <optional>
#include <vector>

#include "format/keys.h"
#include "format/records.h"
#include "raster/copy.h"
#include "store/env.h"
#include "tessera/types.h"

namespace tessera::detail {

// Geometry and sample layout of an image's tiles.
struct TileLayout {
  explicit TileLayout(const ImageInfo& info);

  uint32_t tile_size;
  int shift;  // log2(tile_size)
  uint32_t bands;
  size_t sample;  // bytes per sample
  StorageLayout storage;

  size_t pixel_bytes() const { return sample * bands; }
  size_t tile_bytes() const { return pixel_bytes() * tile_size * tile_size; }
  TileCoord tile_of(int64_t x, int64_t y) const { return {x >> shift, y >> shift}; }
  Region tile_region(TileCoord t) const {
    return Region{t.x * int64_t(tile_size), t.y * int64_t(tile_size), tile_size, tile_size};
  }
  // Pointer to sample (x, y) of band b of a tile buffer, and the strides that go with it.
  int64_t pixel_stride() const;
  int64_t line_stride() const;
  size_t band_offset(uint32_t band) const;
  size_t sample_offset(int64_t x, int64_t y, uint32_t band) const {
    return band_offset(band) + size_t(y * line_stride() + x * pixel_stride());
  }
};

// Expands one pixel over a whole tile buffer in storage layout.
void fill_tile_with(const TileLayout& layout, const uint8_t* pixel, uint8_t* tile);
// The one pixel every pixel of a tile buffer in storage layout holds, or false.
bool uniform_pixel(const TileLayout& layout, const uint8_t* tile, std::vector<uint8_t>& pixel);

// The tiles a region touches, row by row.
struct TileRange {
  int64_t x0, y0, x1, y1;  // inclusive tile coordinates
  uint64_t count() const { return uint64_t(x1 - x0 + 1) * uint64_t(y1 - y0 + 1); }
};
TileRange tiles_of(const TileLayout& layout, const Region& region);

// A version of a tile: the record and the frame it was written in.
struct TileVersion {
  uint32_t frame = 0;
  TileValue value;
};

// Seeks the version of `tile` that frame `frame` shows (the newest written at or before it).
// nullopt when none: the tile is absent in that frame. A tombstone is returned as such.
Result<std::optional<TileVersion>> find_version(const Txn& txn, Cursor& cursor, const ImageInfo& image,
                                                uint8_t level, TileCoord tile, uint32_t frame);

// Context for messages: "image 'NAME' tile (X,Y) frame F".
std::string tile_context(const ImageInfo& image, TileCoord tile, uint32_t frame);

}  // namespace tessera::detail
