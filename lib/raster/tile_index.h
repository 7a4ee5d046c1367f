// The tile index of one image: which tile covers which pixels, how samples sit inside a tile,
// and finding the version of a tile a frame shows (one cursor seek, spec/FORMAT.md section 5.1).
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

// A block of tiles, inclusive.
struct TileRange {
  int64_t x0, y0, x1, y1;
  uint64_t count() const { return uint64_t(x1 - x0 + 1) * uint64_t(y1 - y0 + 1); }
  bool contains(TileCoord t) const { return t.x >= x0 && t.x <= x1 && t.y >= y0 && t.y <= y1; }
  bool operator==(const TileRange&) const = default;
};

// Geometry and sample layout of an image's tiles.
struct TileLayout {
  explicit TileLayout(const ImageInfo& info);

  uint32_t tile_size;
  int shift;        // log2(tile_size)
  int macro_shift;  // log2(tiles across a macro block)
  uint32_t bands;
  size_t sample;  // bytes per sample
  StorageLayout storage;

  Codec codec;

  size_t pixel_bytes() const { return sample * bands; }
  // Planar tiles of several bands: a chunk holds a block per band plane.
  bool band_blocks() const { return storage == StorageLayout::kPlanar && bands > 1; }
  // Blocks a chunk of this image is encoded in (spec/FORMAT.md 4.4.2): one per band plane for
  // planar tiles of several bands (each band decodes alone); for uncompressed tiles of lines
  // (chunky, or one band) one per kLinesPerBlock lines, so that a read of some lines checks only
  // theirs; else one.
  static constexpr uint32_t kLinesPerBlock = 32;
  uint32_t chunk_blocks() const {
    if (band_blocks()) return bands;
    if (codec == Codec::kNone && tile_size >= 2 * kLinesPerBlock) return tile_size / kLinesPerBlock;
    return 1;
  }
  size_t tile_bytes() const { return pixel_bytes() * tile_size * tile_size; }
  TileCoord tile_of(int64_t x, int64_t y) const { return {x >> shift, y >> shift}; }
  TileCoord macro_of(TileCoord t) const { return {t.x >> macro_shift, t.y >> macro_shift}; }
  // The tiles of a macro block, inclusive.
  TileRange tiles_of_macro(TileCoord macro) const;
  uint64_t tiles_per_macro() const { return uint64_t(1) << (2 * macro_shift); }
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

// The tiles a region touches.
TileRange tiles_of(const TileLayout& layout, const Region& region);

// A version of a tile: the record and the frame it was written in.
struct TileVersion {
  uint32_t frame = 0;
  TileValue value;
  bool macro = false;  // the record is its macro block's, not the tile's own
};

// Seeks the newest record of one key group (a tile, or with kMacroLevelFlag in `level` a macro
// block) written at or before frame `frame`. nullopt when none. A tombstone is returned as such.
Result<std::optional<TileVersion>> find_version(const Txn& txn, Cursor& cursor, const ImageInfo& image,
                                                uint8_t level, TileCoord tile, uint32_t frame);

// Which of a tile's own version and its macro block's version a frame shows: the macro
// block's only when it was written in a later frame than the tile's own (same frame: the tile).
std::optional<TileVersion> shown_version(std::optional<TileVersion> own,
                                         std::optional<TileVersion> macro);

// Pyramid level 0: the image at full resolution, which every other level is made from (and
// whose data the geometry caches describe).
constexpr uint32_t kFullResolution = 0;
// The level byte of the tile key of pyramid level `level`'s tiles, and of its macro blocks.
inline uint8_t tile_level_byte(uint32_t level) { return uint8_t(level); }
inline uint8_t macro_level_byte(uint32_t level) { return uint8_t(kMacroLevelFlag | level); }

// Finds what tiles of one level and frame show, own records and macro blocks together: one
// seek per tile plus one per macro block (remembered while neighbouring tiles are looked up).
class TileLookup {
 public:
  TileLookup(const Txn& txn, const ImageInfo& image, uint32_t level, uint32_t frame);
  Status status() const { return cursor_.status(); }
  Result<std::optional<TileVersion>> find(TileCoord tile);
  // The tile's own newest version at or before `frame` (default: the lookup's frame), and the
  // macro block's at or before the lookup's frame.
  Result<std::optional<TileVersion>> own(TileCoord tile) { return own(tile, frame_); }
  Result<std::optional<TileVersion>> own(TileCoord tile, uint32_t frame);
  Result<std::optional<TileVersion>> macro(TileCoord macro_block);

 private:
  const Txn& txn_;
  const ImageInfo& image_;
  uint32_t level_;
  uint32_t frame_;
  int macro_shift_;
  Cursor cursor_;
  struct CachedMacro {
    TileCoord block;
    std::optional<TileVersion> version;
  };
  std::optional<CachedMacro> cached_;
};

// Context for messages: "image 'NAME' tile (X,Y) frame F".
std::string tile_context(const ImageInfo& image, TileCoord tile, uint32_t frame);

}  // namespace tessera::detail
