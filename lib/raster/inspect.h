// Whole-image questions answered by scanning the tile index of one frame: tile and chunk
// counts, and bounding boxes of the data. They stream: memory stays bounded by the number
// of distinct chunks (stats) or by one tile (bounds).
#pragma once

#include <functional>
#include <optional>

#include "raster/tile_index.h"

namespace tessera::detail {

// Calls `visit` for every tile that frame `frame` of `image` shows (tombstones excluded), in
// key order, with the size of its tile record.
Status for_each_visible_tile(
    const Txn& txn, const ImageInfo& image, uint32_t frame,
    const std::function<Status(TileCoord, const TileVersion&, size_t record_bytes)>& visit);

Result<ImageStats> image_stats(const Txn& txn, const ImageInfo& image, uint32_t frame);
Result<std::optional<Region>> image_bounds(const Txn& txn, const ImageInfo& image, uint32_t frame,
                                           Precision precision);

}  // namespace tessera::detail
