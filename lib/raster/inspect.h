// Tile and chunk counts of one level and frame of an image, from one scan of its tile index
// (records only, nothing decoded). Memory: one entry per distinct chunk.
#pragma once

#include "raster/tile_index.h"

namespace tessera::detail {

Result<ImageStats> image_stats(const Txn& txn, const ImageInfo& image, uint32_t level, uint32_t frame);

}  // namespace tessera::detail
