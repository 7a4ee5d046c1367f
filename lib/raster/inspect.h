// Whole-image questions answered by scanning the tile index of one frame: tile and chunk
// counts, and bounding boxes of the data. They stream: memory stays bounded by the number
// of distinct chunks (stats) or by one tile (bounds).
#pragma once

#include <functional>
#include <optional>

#include "raster/tile_index.h"

namespace tessera::detail {

// Calls `visit` for every tile that frame `frame` of `image` shows (tombstones excluded), with
// the size of its record: tiles with their own record in key order, then the tiles collapsed
// macro blocks show (a block's record size counted with its first tile). Memory: one entry per
// macro block the frame shows, plus the tiles inside them that have records of their own.
Status for_each_visible_tile(
    const Txn& txn, const ImageInfo& image, uint32_t frame,
    const std::function<Status(TileCoord, const TileVersion&, size_t record_bytes)>& visit);

Result<ImageStats> image_stats(const Txn& txn, const ImageInfo& image, uint32_t frame);

}  // namespace tessera::detail
