// Pyramid levels (spec/FORMAT.md 5.6): level L > 0 of a frame is stored as ordinary tiles
// under level byte L (versions, dedup, uniform tiles and collapsed blocks as at level 0), each
// tile the reduction of the 2 x 2 tiles below it (raster/downsample.h). A frame's record
// (store/pyramid_table.h) says how many levels are built and by which rule; every write of
// level 0 recomputes the ancestors of the tiles it changed, level by level, in its own
// transaction, so built levels never lag behind. A full build runs in batches, each its own
// transaction, and goes on from the last one committed when run again.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "format/pyramid_record.h"
#include "raster/runtime.h"
#include "raster/tile_index.h"
#include "util/bytes.h"

namespace tessera::detail {

// Level tiles a block of parent tiles at a time (at most 4 x 4 whose children are read at once,
// fewer for large tiles): calls `visit` with each run of `tiles` (sorted by Morton code) that
// lies in one block.
Status for_each_block(const ImageInfo& image, std::span<const TileCoord> tiles,
                      const std::function<Status(std::span<const TileCoord>)>& visit);

// The tiles of `level` a full build of frame `frame` computes, in Morton order: the parents of
// the tiles the level below shows, and the tiles the level shows (which may have to go).
// Holds no lock: the caller holds the transaction's LMDB mutex.
Result<std::vector<TileCoord>> level_tiles(const Txn& txn, const ImageInfo& image, uint32_t frame, uint32_t level);

// The level-`level` pixels of the bounding box of `tiles`, made from level - 1 by `rule`
// (pixel-interleaved, `line` bytes per row).
struct LevelBox {
  Region region;
  size_t line = 0;
  AlignedBuffer pixels;
};
Result<LevelBox> compute_level_box(Txn& txn, Runtime& runtime, const ImageInfo& image, uint32_t frame,
                                   uint32_t level, Resampling rule, std::span<const TileCoord> tiles);

// Recomputes tiles `parents` of level `level` of frame `frame` from level - 1 and writes them
// (a tile that comes out as it was is left alone). `changed`, when given, gets the tiles whose
// content changed, in Morton order.
Status rebuild_level_tiles(Txn& txn, Runtime& runtime, const ImageInfo& image, uint32_t frame,
                           uint32_t level, Resampling rule, std::vector<TileCoord> parents,
                           std::vector<TileCoord>* changed);

// After a write changed level-0 tiles `changed` of frame `frame`: the frame's levels (those
// built and the one a build has under way) recomputed over the ancestors of those tiles.
Status update_pyramid(Txn& txn, Runtime& runtime, const ImageInfo& image, uint32_t frame,
                      std::vector<TileCoord> changed);

// The levels "auto" builds for a frame: until its data fits one tile (at least 1).
Result<uint32_t> auto_pyramid_levels(Txn& txn, Runtime& runtime, const ImageInfo& image, uint32_t frame);

// One batch of the build of levels 1..levels of frame `frame` by `rule`: about `batch_bytes`
// of level tiles, recorded in the frame's pyramid record. `done` and `total` count level
// tiles (total estimated from the level below). Returns true when the build is complete.
struct BuildCounts {
  uint64_t done = 0, total = 0;
  uint32_t level = 0;  // the level `total` was last estimated at
};
Result<bool> build_pyramid_batch(Txn& txn, Runtime& runtime, const ImageInfo& image, uint32_t frame,
                                 uint32_t levels, Resampling rule, uint64_t batch_bytes, BuildCounts& counts);

}  // namespace tessera::detail
