// Geometry caches (spec/FORMAT.md section 4.6): where the data of each frame is, at four precisions,
// kept in the `geometry` database with the generation of the frame they were computed at.
//
// Every write that changes a frame gives it a new generation (a counter in meta, unique in the
// file) and grows its operative box. The rough leaf and root boxes and the exact box are kept
// fresh by the write too when it can prove them unchanged or knows how they grew (tiles only
// added, or removed strictly inside the leaf box); otherwise they go stale and are recomputed
// on the next query: the leaf box from the tile index (records only, no decoding), the exact
// box from the tiles on the edge of the leaf box alone.
#pragma once

#include <optional>

#include "raster/runtime.h"
#include "raster/tile_index.h"

namespace tessera::detail {

// What one write did to one frame, tile by tile.
struct FrameChanges {
  std::optional<Region> written;      // parts written into tiles that hold data afterwards
  std::optional<TileRange> changed;   // tiles whose content changed
  std::optional<TileRange> appeared;  // tiles absent before, holding data now
  std::optional<TileRange> vanished;  // tiles holding data before, absent now
  void note(TileCoord tile, const Region& part, bool had_data, bool has_data);
};

// A new image's frame 0: empty, every precision fresh.
Status init_geometry(Txn& txn, const ImageInfo& image, uint32_t frame);
// A new frame starts as a copy of frame `from`: so do its caches.
Status copy_geometry(Txn& txn, const ImageInfo& image, uint32_t from, uint32_t to);
// After a write to `frame`: new generation, operative box grown, other caches kept or stale.
Status update_geometry(Txn& txn, const ImageInfo& image, uint32_t frame, const FrameChanges& changes);
// Frame `dropped` is gone and later frames move down by one: so do their caches.
Status drop_geometry(Txn& txn, const ImageInfo& image, uint32_t dropped);

// The box of the data of a frame at `precision`; nullopt when the frame holds no data.
// O(1) on a fresh cache. A stale one is recomputed, and stored when `txn` is writable.
// Exact boxes read the edge tiles through `runtime` (raster/tile_fetch.h).
Result<std::optional<Region>> frame_geometry(Txn& txn, Runtime& runtime, const ImageInfo& image,
                                             uint32_t frame, Precision precision);

// The exact box recomputed from every tile of the frame, ignoring every cache (for tests and
// benchmarks: the cost the caches avoid).
Result<std::optional<Region>> exact_geometry_by_full_scan(const Txn& txn, Runtime& runtime,
                                                          const ImageInfo& image, uint32_t frame);

}  // namespace tessera::detail
